"""The `type = "inbox"` config model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from relay.connector import ConnectorConfig
from relay.strength import Strong


class InboxConfig(ConnectorConfig):
    """`type = "inbox"`: the in-memory agent inbox; without `access_key` it serves loopback only."""

    type: Literal["inbox"]
    access_key: Strong | None = None
    max_conversations: int = Field(default=500, ge=1, le=100_000)
    max_messages: int = Field(default=200, ge=1, le=10_000)
