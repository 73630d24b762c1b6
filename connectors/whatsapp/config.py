"""The `type = "whatsapp"` config model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from relay import strength
from relay.connector import ConnectorConfig
from relay.secret import Secret


class TemplateConfig(BaseModel):
    """An approved template sent instead of a free-form reply once the 24-hour window has closed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_]{1,512}$")
    language: str = Field(default="en_US", pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")
    parameter: Literal["text", "none"] = "text"


class WhatsAppConfig(ConnectorConfig):
    """WhatsApp Business Cloud API: one business phone number behind one Meta app."""

    type: Literal["whatsapp"]
    phone_number_id: str = Field(pattern=r"^[0-9]{5,32}$")
    business_account_id: str | None = Field(default=None, pattern=r"^[0-9]{5,32}$")
    access_token: Secret
    app_secret: Secret
    verify_token: Secret
    graph_version: str = Field(default="v21.0", pattern=r"^v[0-9]{2}\.0$")
    api_base_url: str = Field(default="https://graph.facebook.com", pattern=r"^https?://[^/?#]+(/[^?#]*)?$")
    opt_out_keywords: list[str] | None = None
    opt_in_keywords: list[str] | None = None
    template: TemplateConfig | None = None
    max_media_bytes: int = Field(default=16 << 20, ge=1024, le=100 << 20)
    throughput: int = Field(default=80, ge=1, le=1000)
    timeout: float = Field(default=20.0, gt=0, le=120)
    ack_deadline: float | None = Field(default=None, gt=0, le=60)

    @field_validator("opt_out_keywords", "opt_in_keywords")
    @classmethod
    def _moved(cls, value: list[str] | None) -> None:
        if value is not None:
            raise ValueError(
                "opt-out and opt-in words are the workspace's now, for every channel: move them to "
                "[consent] opt_out_words / opt_in_words (STOP, START and the usual words are built in)"
            )
        return None

    @field_validator("app_secret", "access_token")
    @classmethod
    def _not_empty(cls, value: Secret) -> Secret:
        if len(value.reveal()) < 8:
            raise ValueError("must be at least 8 characters (copy it from the Meta App Dashboard)")
        return value

    @field_validator("verify_token")
    @classmethod
    def _strong(cls, value: Secret) -> Secret:
        return strength.check(value, f"{strength.HOW_HEX} and type the same in the Meta webhook setup")

    @property
    def graph_url(self) -> str:
        """The versioned Graph API root."""
        return f"{self.api_base_url.rstrip('/')}/{self.graph_version}"
