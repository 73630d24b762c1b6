"""The `type = "webhook"` config model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from relay.connector import ConnectorConfig
from relay.secret import Secret


class WebhookConfig(ConnectorConfig):
    """`type = "webhook"`: where to POST, and the shared HMAC secret."""

    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    secret: Secret
    inbound_secret: Secret | None = None
    timeout: float = Field(default=10.0, gt=0, le=120)
    inline_media_max: int = Field(default=0, ge=0, le=5 << 20)
    max_rate: float | None = Field(default=None, gt=0)

    @field_validator("secret", "inbound_secret")
    @classmethod
    def _long_enough(cls, value: Secret | None) -> Secret | None:
        if value is not None and len(value.reveal()) < 16:
            raise ValueError("must be at least 16 characters; generate one with `openssl rand -hex 32`")
        return value
