"""The `type = "webchat"` config model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from relay.connector import ConnectorConfig


class WebchatConfig(ConnectorConfig):
    """`type = "webchat"`: the customer chat page."""

    type: Literal["webchat"]
    title: str = Field(default="Chat with us", max_length=80)
    max_visitors: int = Field(default=1000, ge=1, le=100_000)
    max_pending: int = Field(default=100, ge=1, le=10_000)
    sessions_per_minute: float = Field(default=20.0, gt=0, le=100_000)
    session_burst: int = Field(default=20, ge=1, le=100_000)
