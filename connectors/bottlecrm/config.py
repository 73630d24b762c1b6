"""The `type = "bottlecrm"` config model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from relay import strength
from relay.connector import ConnectorConfig
from relay.secret import Secret

InteractionKind = Literal["call", "meeting", "email", "whatsapp", "sms"]
UUID_PATTERN = r"^[0-9a-fA-F-]{32,36}$"
_NAME_KINDS: tuple[tuple[str, InteractionKind], ...] = (
    ("whatsapp", "whatsapp"),
    ("sms", "sms"),
    ("twilio", "sms"),
    ("ringcentral", "sms"),
    ("email", "email"),
    ("mail", "email"),
)


class BottleCrmConfig(ConnectorConfig):
    """`type = "bottlecrm"`: a BottleCRM (django-crm) instance reached with a personal access token."""

    type: Literal["bottlecrm"]
    api_base_url: str = Field(pattern=r"^https?://[^/\s]+", max_length=500)
    api_token: Secret
    webhook_secret: Secret
    record: Literal["contact", "lead"] = "contact"
    interaction_kind: dict[str, InteractionKind] = Field(default_factory=dict)
    default_kind: InteractionKind = "sms"
    reply_source: Literal["interaction", "comment"] = "interaction"
    relay_profile_id: str | None = Field(default=None, pattern=UUID_PATTERN)
    lookup_ttl: float = Field(default=3600.0, ge=0, le=86400)
    timeout: float = Field(default=5.0, gt=0, le=60)
    ack_deadline: float | None = Field(default=None, gt=0, le=120)

    @field_validator("api_token")
    @classmethod
    def _long_enough(cls, value: Secret) -> Secret:
        if len(value.reveal()) < 16:
            raise ValueError("must be at least 16 characters (a bcrm_pat_... token)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _strong(cls, value: Secret) -> Secret:
        return strength.check(value, "use the whsec_... secret printed by `relay bottlecrm register-webhook`")

    @property
    def base(self) -> str:
        return self.api_base_url.rstrip("/")

    @property
    def reply_event(self) -> str:
        """The webhook event that carries agents' replies."""
        return "ticket.comment_added" if self.reply_source == "comment" else "interaction.created"

    def kind_for(self, instance: str) -> InteractionKind:
        """The interaction kind for messages from a messenger instance."""
        if instance in self.interaction_kind:
            return self.interaction_kind[instance]
        lowered = instance.lower()
        for word, kind in _NAME_KINDS:
            if word in lowered:
                return kind
        return self.default_kind

    @property
    def reply_kinds(self) -> frozenset[str]:
        """Outbound interaction kinds that are text replies (calls and meetings are not)."""
        return frozenset({"whatsapp", "sms", self.default_kind, *self.interaction_kind.values()})
