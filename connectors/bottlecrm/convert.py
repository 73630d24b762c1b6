"""Config, the conversation marker kept in CRM notes, and pure conversions to and from BottleCRM JSON."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from relay import strength
from relay.connector import ConnectorConfig
from relay.model import Address, Attachment, Kind, Message, Party
from relay.richtext import RichText
from relay.secret import Secret

InteractionKind = Literal["call", "meeting", "email", "whatsapp", "sms"]
UUID_PATTERN = r"^[0-9a-fA-F-]{32,36}$"
MARKER_PREFIX = "relay-conversation:"
_MARKER_RE = re.compile(r"^relay-conversation:\s*(c1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\s*$", re.M)
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
    ack_deadline: float = Field(default=8.0, gt=0, le=120)

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


def with_marker(notes: str | None, sealed: str) -> str:
    """Notes with exactly one conversation marker line, the given one, at the end."""
    kept = _MARKER_RE.sub("", notes or "").rstrip()
    line = f"{MARKER_PREFIX} {sealed}"
    return f"{kept}\n{line}" if kept else line


def marker_in(notes: Any) -> str | None:
    """The sealed conversation reference in a record's notes, if any (the last marker wins)."""
    if not isinstance(notes, str):
        return None
    found = _MARKER_RE.findall(notes)
    return found[-1] if found else None


def identity_tag(digest: str) -> str:
    """A short, content-free tag put in the name of records created for senders without phone or e-mail."""
    return f"r{digest[:12]}"


def record_fields(
    message: Message,
    record: str,
    sealed: str,
    tag: str | None,
    kind: InteractionKind,
) -> dict[str, Any]:
    """The body that creates a contact or lead for a message's sender, carrying the conversation marker."""
    sender = message.sender or Party(id="")
    name = (sender.name or sender.username or "").strip()
    first, _, last = name.partition(" ")
    first = first or f"{message.conversation.instance} customer"
    if tag:
        last = f"{last} [{tag}]".strip()
    body: dict[str, Any] = {
        "first_name": first[:255],
        "last_name": (last or "-")[:255],
        "description": with_marker(None, sealed),
    }
    if sender.phone:
        body["phone"] = sender.phone
    if sender.email:
        body["email"] = sender.email
    if record == "lead":
        body.update(
            title=f"{kind.capitalize()} enquiry via {message.conversation.instance}"[:64],
            assigned_to=[],
            contacts=[],
            teams=[],
        )
    return body


def interaction_body(
    message: Message, home: str, record_id: str, kind: InteractionKind, link: Callable[[Attachment], str | None]
) -> dict[str, Any]:
    """An inbound interaction recording one customer message on a contact or lead."""
    lines = [message.text.plain] if message.text else []
    for att in message.attachments:
        url = link(att) or att.url
        caption = f" {att.caption.plain}" if att.caption else ""
        lines.append(f"[{att.name}]({url}){caption}" if url else f"[{att.name}]{caption}")
    return {
        "kind": kind,
        "direction": "inbound",
        "subject": f"{kind.capitalize()} message via {message.conversation.instance}"[:200],
        "body": "\n".join(lines)[:10_000],
        "occurred_at": message.sent_at.isoformat(),
        home: record_id,
    }


def system_note(message: Message) -> str:
    """A content-free note for a record: a delivery failure, notice, or opt-out."""
    channel = message.conversation.instance
    if message.kind is Kind.STATUS:
        return f"Relay: a reply could not be delivered to the customer on {channel} ({message.reason or 'failed'})."
    if message.kind is Kind.OPT_OUT:
        return f"Relay: the customer opted out of messages on {channel}."
    if message.kind is Kind.OPT_IN:
        return f"Relay: the customer opted in to messages on {channel}."
    return f"Relay notice ({channel}): {message.text.plain}"[:1000]


class Envelope(BaseModel):
    """A BottleCRM webhook delivery."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=100)
    event: str = Field(max_length=100)
    data: dict[str, Any] = Field(default_factory=dict)


class InteractionEvent(BaseModel):
    """`interaction.created` data (the fields the relay reads)."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=100)
    kind: str = ""
    direction: str = ""
    body: str | None = Field(default=None, max_length=100_000)
    logged_by: str | None = None
    contact_id: str | None = None
    lead_id: str | None = None


class CommentEvent(BaseModel):
    """`ticket.comment_added` data."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=100)
    ticket_id: str = Field(min_length=1, max_length=100)
    comment: str | None = Field(default=None, max_length=100_000)
    commented_by: str | None = None
    commented_by_contact: str | None = None


def skip_reason(
    event: InteractionEvent | CommentEvent, config: BottleCrmConfig, relay_profile: str | None
) -> str | None:
    """Why a webhook event is not an agent's reply (None when it is one)."""
    if isinstance(event, CommentEvent):
        author = event.commented_by
        if event.commented_by_contact or not author:
            return "not_an_agent_comment"
        text = event.comment
    else:
        if event.direction != "outbound":
            return "not_outbound"
        if event.kind not in config.reply_kinds:
            return "not_a_text_kind"
        author = event.logged_by
        text = event.body
    if relay_profile and author == relay_profile:
        return "relay_own"
    if not (text or "").strip():
        return "empty"
    return None


def reply_message(
    instance: str, envelope_id: str, item_id: str, author: str | None, text: str, address: Address
) -> Message:
    """An agent's reply as a Message for the customer's conversation."""
    return Message(
        kind=Kind.TEXT,
        id=item_id,
        origin=instance,
        conversation=address,
        sender=Party(id=author or "agent"),
        text=RichText.of(text.strip()),
        event_id=envelope_id,
    )


def first_id(items: Any) -> str | None:
    """The `id` of the first dict in a list, if any."""
    if isinstance(items, list):
        for item in items:
            if isinstance(item, Mapping) and item.get("id"):
                return str(item["id"])
    return None
