"""The `type = "slack"` config model."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from relay.connector import ConnectorConfig
from relay.secret import Secret


class SlackConfig(ConnectorConfig):
    """Slack app credentials, receive mode, relayed channels, and the Web API base URL."""

    type: Literal["slack"]
    bot_token: Secret
    signing_secret: Secret | None = None
    mode: Literal["events", "socket"] = "events"
    app_token: Secret | None = None
    channels: tuple[str, ...] = Field(default=(), max_length=1000)
    include_email: bool = False
    api_base_url: str = Field(default="https://slack.com/api/", pattern=r"^https?://")
    ack_deadline: float | None = Field(default=None, gt=0.3, le=2.9)

    @field_validator("bot_token")
    @classmethod
    def _bot_token(cls, value: Secret) -> Secret:
        if not value.reveal().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb- (OAuth & Permissions page)")
        return value

    @field_validator("app_token")
    @classmethod
    def _app_token(cls, value: Secret | None) -> Secret | None:
        if value is not None and not value.reveal().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp- (Basic Information page)")
        return value

    @field_validator("channels")
    @classmethod
    def _channel_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [c for c in value if not (c[:1] in ("C", "G", "D") and c[1:].isalnum() and c.isupper())]
        if bad:
            raise ValueError("list channel ids like C0123ABCD (channel details -> bottom), not names")
        return value

    @field_validator("api_base_url")
    @classmethod
    def _slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @model_validator(mode="after")
    def _mode_keys(self) -> SlackConfig:
        if self.mode == "events" and not self.signing_secret:
            raise ValueError("signing_secret is required in events mode (Basic Information -> Signing Secret)")
        if self.mode == "socket" and self.app_token is None:
            raise ValueError("app_token (xapp-...) is required in socket mode")
        return self

    @property
    def api_host(self) -> str:
        """host[:port] of the Web API base URL."""
        return urlsplit(self.api_base_url).netloc.lower()
