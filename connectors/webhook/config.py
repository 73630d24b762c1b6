"""The `type = "webhook"` config model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from relay.connector import ConnectorConfig
from relay.strength import Strong


class WebhookConfig(ConnectorConfig):
    """`type = "webhook"`: where to POST, and the shared HMAC secret (`previous_secret` during a rotation:
    events are signed with both, answers signed with either are accepted)."""

    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    secret: Strong
    inbound_secret: Strong | None = None
    previous_secret: Strong | None = None
    timeout: float = Field(default=10.0, gt=0, le=120)
    inline_media_max: int = Field(default=0, ge=0, le=5 << 20)
    max_rate: float | None = Field(default=None, gt=0)
