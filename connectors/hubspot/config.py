"""The `type = "hubspot"` config model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from relay.connector import ConnectorConfig
from relay.secret import Secret

SCOPES = (
    "conversations.custom_channels.read",
    "conversations.custom_channels.write",
    "conversations.read",
    "files",
)
CONTACT_SCOPES = {
    "off": (),
    "match": ("crm.objects.contacts.read",),
    "create": ("crm.objects.contacts.read", "crm.objects.contacts.write"),
}


class HubSpotConfig(ConnectorConfig):
    """`type = "hubspot"`: the app (id, client id and secret), the portal's refresh token, the custom
    channel and one channel account per messenger instance (`accounts`, written by `relay hubspot connect`)."""

    type: Literal["hubspot"]
    app_id: int = Field(gt=0)
    client_id: str = Field(min_length=8, max_length=100, pattern=r"^[A-Za-z0-9-]+$")
    client_secret: Secret
    refresh_token: Secret | None = None
    signing_secret: Secret | None = None
    developer_api_key: Secret | None = None
    channel_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    channel_name: str = Field(default="Relay", min_length=1, max_length=50)
    inbox_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    accounts: dict[str, str] = Field(default_factory=dict)
    contacts: Literal["off", "match", "create"] = "match"
    file_folder: str = Field(default="/relay", pattern=r"^/[A-Za-z0-9 _/-]{0,100}$")
    file_ttl: str | None = Field(default="P90D", pattern=r"^P[0-9]{1,3}D$")
    api_base_url: str = Field(default="https://api.hubapi.com", pattern=r"^https?://[^\s/?#]+$")
    app_base_url: str = Field(default="https://app.hubspot.com", pattern=r"^https?://[^\s/?#]+$")
    token_path: str = Field(default="/oauth/2026-03/token", pattern=r"^/oauth/[a-z0-9-]+/token$")
    file_hosts: tuple[str, ...] = ("*.hubspotusercontent*.net", "*.hubspot.net", "*.hubspot.com", "*.hubapi.com")
    timeout: float = Field(default=15.0, gt=0, le=120)
    refresh_margin: float = Field(default=300.0, ge=0, le=1700)
    max_rate: float = Field(default=9.0, gt=0, le=100)

    @field_validator("client_secret", "signing_secret")
    @classmethod
    def _long_enough(cls, value: Secret | None) -> Secret | None:
        if value is not None and len(value.reveal()) < 16:
            raise ValueError("must be at least 16 characters; copy the client secret from the app's Auth page")
        return value

    @field_validator("accounts")
    @classmethod
    def _account_ids(cls, value: dict[str, str]) -> dict[str, str]:
        for instance, account in value.items():
            if not account.isdigit() or len(account) > 20:
                raise ValueError(f"{instance}: a channel account id is digits (as `relay hubspot connect` prints)")
        return value

    @property
    def signing_key(self) -> bytes:
        """HubSpot signs its webhooks (v3) with the app's client secret unless another key is configured."""
        return (self.signing_secret or self.client_secret).reveal().encode()

    @property
    def scopes(self) -> tuple[str, ...]:
        """The OAuth scopes the install asks for."""
        return SCOPES + CONTACT_SCOPES[self.contacts]
