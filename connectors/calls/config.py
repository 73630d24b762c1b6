"""The `type = "calls"` config model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from relay.connector import ConnectorConfig
from relay.secret import Secret
from relay.strength import Strong

CallStatusName = Literal["ringing", "answered", "missed", "voicemail", "failed"]


class CallsConfig(ConnectorConfig):
    """`type = "calls"`: call events (Twilio Voice status callbacks, or signed JSON from a PBX or an answering
    service) as timeline entries in the caller's conversation."""

    type: Literal["calls"]
    secret: Strong | None = None
    twilio_auth_token: Secret | None = None
    twilio_account_sid: str | None = Field(default=None, pattern=r"^AC[0-9a-fA-F]{32}$")
    twilio_api_base_url: str = Field(default="https://api.twilio.com", pattern=r"^https?://[^/\s?#]+$")
    conversation_instance: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    statuses: tuple[CallStatusName, ...] = ("answered", "missed", "voicemail", "failed")
    links: bool = False
    media_hosts: tuple[str, ...] = ("api.twilio.com", "*.twilio.com", "*.amazonaws.com")

    @model_validator(mode="after")
    def _a_source(self) -> CallsConfig:
        if self.secret is None and self.twilio_auth_token is None:
            raise ValueError(
                "set secret (signed JSON from a PBX or answering service) and/or twilio_auth_token (Twilio Voice)"
            )
        if self.twilio_auth_token is not None and self.twilio_account_sid is None:
            raise ValueError("twilio_account_sid (AC...) goes with twilio_auth_token")
        if not self.statuses:
            raise ValueError("statuses: list at least one of ringing, answered, missed, voicemail, failed")
        return self
