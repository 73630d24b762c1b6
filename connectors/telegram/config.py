"""The `type = "telegram"` config model."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from relay import strength
from relay.connector import ConnectorConfig
from relay.secret import Secret

_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_BOT_TOKEN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,}$")


class TelegramConfig(ConnectorConfig):
    """A Telegram bot: its token, how updates arrive (webhook or long polling), which chats count."""

    type: Literal["telegram"]
    token: Secret
    mode: Literal["webhook", "polling"] = "webhook"
    secret_token: Secret | None = None
    accept_private: bool = True
    accept_groups: bool = False
    api_base_url: str = Field(default="https://api.telegram.org/bot", pattern=r"^https?://")
    api_file_base_url: str | None = Field(default=None, pattern=r"^https?://")
    timeout: float = Field(default=15.0, gt=0, le=120)
    poll_timeout: int = Field(default=30, ge=1, le=50)
    poll_retry_pause: float = Field(default=5.0, gt=0, le=300)
    ack_deadline: float | None = Field(default=None, gt=0, le=58)

    @field_validator("token")
    @classmethod
    def _token_shape(cls, value: Secret) -> Secret:
        if not _BOT_TOKEN.match(value.reveal()):
            raise ValueError("does not look like a bot token from @BotFather (<digits>:<letters>)")
        return value

    @field_validator("secret_token")
    @classmethod
    def _secret_shape(cls, value: Secret | None) -> Secret | None:
        if value is not None and not _SECRET_TOKEN.match(value.reveal()):
            raise ValueError("must be 1-256 characters from A-Z a-z 0-9 _ -; generate one with `openssl rand -hex 32`")
        return None if value is None else strength.check(value, strength.HOW_HEX)

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> TelegramConfig:
        if self.mode == "webhook" and self.secret_token is None:
            raise ValueError("secret_token is required in webhook mode (Telegram sends it with every update)")
        if self.api_file_base_url is None and "/bot" not in self.api_base_url:
            raise ValueError("set api_file_base_url: it cannot be derived from api_base_url")
        return self

    @property
    def file_base_url(self) -> str:
        """Where files are downloaded from: explicit, or api_base_url with /bot -> /file/bot."""
        if self.api_file_base_url is not None:
            return self.api_file_base_url
        head, _, tail = self.api_base_url.rpartition("/bot")
        return f"{head}/file/bot{tail}"
