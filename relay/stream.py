"""A file being streamed from where it is held, and what can hold one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(slots=True)
class MediaStream:
    """A file being streamed from a platform."""

    mime: str
    chunks: AsyncIterator[bytes]
    size: int | None = None
    name: str = field(default="file", repr=False)


class MediaSource(Protocol):
    """A connector instance that holds platform files."""

    async def fetch_media(self, file_id: str, limit: int) -> MediaStream:
        """Stream a file, refusing more than `limit` bytes."""
        ...
