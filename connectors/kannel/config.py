"""The `type = "kannel"` config model."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator

from relay.connector import ConnectorConfig
from relay.secret import Secret
from relay.strength import StrongHex


class KannelConfig(ConnectorConfig):
    """`type = "kannel"`: SMS through a Kannel gateway (smsbox's sendsms out; sms-service and DLR callbacks in)."""

    type: Literal["kannel"]
    sendsms_url: str = Field(pattern=r"^https?://[^\s?#]+$")
    username: str = Field(min_length=1, max_length=100)
    password: Secret
    callback_secret: StrongHex
    allow_from: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    from_number: str | None = Field(default=None, pattern=r"^\+?[0-9A-Za-z ]{1,20}$")
    smsc: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    dlr_mask: int = Field(default=27, ge=0, le=31)
    max_length: int = Field(default=1530, ge=70, le=10_000)
    max_rate: float = Field(default=10.0, gt=0, le=1000)
    recipient_rate: float = Field(default=1.0, gt=0, le=100)
    recipient_burst: int = Field(default=3, ge=1, le=100)
    timeout: float = Field(default=10.0, gt=0, le=60)

    @field_validator("callback_secret")
    @classmethod
    def _url_safe(cls, value: Secret) -> Secret:
        if not value.reveal().replace("-", "").replace("_", "").isalnum() or not value.reveal().isascii():
            raise ValueError("goes into the callback URLs: use only letters, digits, _ and -")
        return value

    @field_validator("allow_from")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("list the addresses Kannel's smsbox calls from (e.g. 10.0.0.5/32)")
        for i, text in enumerate(value):
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise ValueError(f"[{i}] is not an address or network like 10.0.0.5/32") from None
        return value

    def networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(n, strict=False) for n in self.allow_from)
