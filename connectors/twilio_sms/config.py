"""The `type = "twilio_sms"` config model."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from relay.connector import ConnectorConfig
from relay.secret import Secret

E164 = r"^\+[1-9][0-9]{6,14}$"
NumberType = Literal["long_code", "10dlc", "toll_free", "short_code"]
# Segments per second Twilio sends from one number of each type (excess is queued at Twilio, not refused).
MPS: dict[str, float] = {"long_code": 1.0, "10dlc": 1.0, "toll_free": 3.0, "short_code": 100.0}


class TwilioSmsConfig(ConnectorConfig):
    """`type = "twilio_sms"`: one Twilio number (or Messaging Service) for SMS and MMS both ways."""

    type: Literal["twilio_sms"]
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: Secret
    api_key_sid: str | None = Field(default=None, pattern=r"^SK[0-9a-fA-F]{32}$")
    api_key_secret: Secret | None = None
    webhook_key: Secret | None = None
    from_number: str | None = Field(default=None, pattern=E164)
    messaging_service_sid: str | None = Field(default=None, pattern=r"^MG[0-9a-fA-F]{32}$")
    numbers: tuple[str, ...] = ()
    number_type: NumberType = "long_code"
    max_rate: float | None = Field(default=None, gt=0, le=1000)
    recipient_rate: float = Field(default=1.0, gt=0, le=100)
    recipient_burst: int = Field(default=3, ge=1, le=100)
    max_length: int = Field(default=1600, ge=160, le=1600)
    mms: bool = True
    api_base_url: str = Field(default="https://api.twilio.com", pattern=r"^https?://[^/\s?#]+$")
    media_hosts: tuple[str, ...] = ("api.twilio.com", "*.twiliocdn.com", "*.twilio.com", "*.amazonaws.com")
    timeout: float = Field(default=10.0, gt=0, le=60)
    reconcile: bool = True
    reconcile_horizon: float = Field(default=24 * 3600.0, ge=60, le=7 * 24 * 3600)
    reconcile_on_start: float = Field(default=900.0, ge=0, le=7 * 24 * 3600)
    reconcile_delay: float = Field(default=20.0, ge=0, le=3600)
    reconcile_max_interval: float = Field(default=300.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _consistent(self) -> TwilioSmsConfig:
        if (self.from_number is None) == (self.messaging_service_sid is None):
            raise ValueError("set exactly one of from_number (+E.164) or messaging_service_sid (MG...)")
        if (self.api_key_sid is None) != (self.api_key_secret is None):
            raise ValueError("api_key_sid and api_key_secret go together; set both or neither")
        for i, number in enumerate(self.numbers):
            if re.fullmatch(E164, number) is None:
                raise ValueError(f"numbers[{i}]: must be +E.164, like +15550001111")
        if self.reconcile and not self.inbound_numbers:
            raise ValueError(
                "numbers: list the Messaging Service's phone numbers (+E.164) so missed messages can be "
                "reconciled from Twilio's log, or set reconcile = false"
            )
        if self.reconcile_on_start > self.reconcile_horizon:
            raise ValueError("reconcile_on_start must not be longer than reconcile_horizon")
        return self

    @property
    def inbound_numbers(self) -> tuple[str, ...]:
        """The business numbers customers text (reconciliation lists messages sent to them)."""
        return self.numbers or ((self.from_number,) if self.from_number else ())

    @property
    def rate(self) -> float:
        """Segments per second to send at: `max_rate`, else the number type's class."""
        return self.max_rate or MPS[self.number_type]
