"""A file being streamed from where it is held, and what can hold one."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp

from relay.errors import MediaError

CHUNK = 64 * 1024


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


async def capped_chunks(resp: aiohttp.ClientResponse, limit: int, sha256: str | None) -> AsyncIterator[bytes]:
    """A response body in chunks, capped and optionally hash-checked: with a hash, the last chunk is held
    back until the whole file matched, so a consumer never gets a complete file that does not."""
    digest = hashlib.sha256() if sha256 else None
    seen = 0
    held: bytes | None = None
    done = False
    try:
        async for chunk in resp.content.iter_chunked(CHUNK):
            seen += len(chunk)
            if seen > limit:
                raise MediaError(f"file is larger than the {limit}-byte cap")
            if digest is None:
                yield chunk
                continue
            digest.update(chunk)
            if held is not None:
                yield held
            held = chunk
        if digest is not None and sha256 is not None and digest.hexdigest() != sha256.lower():
            raise MediaError("file does not match the platform's sha256")
        if held is not None:
            yield held
        done = True
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise MediaError(f"file transfer broke ({type(exc).__name__})") from None
    finally:
        if done:
            resp.release()
        else:
            resp.close()
