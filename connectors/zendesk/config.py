"""The `type = "zendesk"` config model: a Sunshine Conversations app, its API key and the webhook secret."""

from __future__ import annotations

import base64
from typing import Literal

import jwt
from pydantic import Field, field_validator, model_validator

from relay.connector import ConnectorConfig
from relay.secret import Secret

# Zendesk answers a webhook within 20 s or counts it as failed; the relay answers before that.
WEBHOOK_TIMEOUT = 20.0


class ZendeskConfig(ConnectorConfig):
    """`type = "zendesk"`: where the SunCo API is, how the relay authenticates, what the webhook sends."""

    type: Literal["zendesk"]
    app_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    key_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    key_secret: Secret
    auth: Literal["basic", "jwt"] = "basic"
    webhook_secret: Secret
    subdomain: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    base_url: str | None = Field(default=None, pattern=r"^https?://[^/?#]+(/[^?#]*)?$")
    integration_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    share_contact: list[Literal["email", "phone"]] = Field(default=[], max_length=2)
    timeout: float = Field(default=10.0, gt=0, le=60)
    upload_timeout: float = Field(default=120.0, gt=0, le=600)
    max_rate: float | None = Field(default=None, gt=0)
    ack_deadline: float | None = Field(default=None, gt=0)

    @field_validator("key_secret", "webhook_secret")
    @classmethod
    def _not_empty(cls, value: Secret) -> Secret:
        if not value.reveal().strip():
            raise ValueError("must not be empty; copy it from Admin Center > Apps and integrations > Conversations")
        return value

    @field_validator("ack_deadline")
    @classmethod
    def _before_sunco_gives_up(cls, value: float | None) -> float | None:
        if value is not None and value >= WEBHOOK_TIMEOUT:
            raise ValueError(f"must be under {WEBHOOK_TIMEOUT:g} s: SunCo counts a slower webhook answer as failed")
        return value

    @model_validator(mode="after")
    def _one_host(self) -> ZendeskConfig:
        if (self.subdomain is None) == (self.base_url is None):
            raise ValueError(
                "set exactly one of subdomain (https://<subdomain>.zendesk.com/sc) or base_url "
                "(e.g. https://api.eu-1.smooch.io for a legacy EU app)"
            )
        return self

    @property
    def api_base(self) -> str:
        """The SunCo API base URL, without a trailing slash."""
        if self.base_url is not None:
            return self.base_url.rstrip("/")
        return f"https://{self.subdomain}.zendesk.com/sc"

    def authorization(self) -> str:
        """The Authorization header: Basic key id:secret, or an HS256 JWT with `kid` and app scope."""
        secret = self.key_secret.reveal()
        if self.auth == "jwt":
            return "Bearer " + jwt.encode({"scope": "app"}, secret, algorithm="HS256", headers={"kid": self.key_id})
        return "Basic " + base64.b64encode(f"{self.key_id}:{secret}".encode()).decode()
