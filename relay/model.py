"""The one message type that flows through the core, and its parts."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from relay.frozen import fast_init
from relay.interact import Choice, Choices, Template
from relay.richtext import RichText


class Kind(StrEnum):
    """What a message is."""

    TEXT = "text"
    MEDIA = "media"
    EDIT = "edit"
    DELETE = "delete"
    REACTION = "reaction"
    STATUS = "status"
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    NOTICE = "notice"
    CALL = "call"
    TEMPLATE = "template"
    TYPING = "typing"
    READ = "read"


class Status(StrEnum):
    """Delivery state carried by a STATUS message."""

    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class CallStatus(StrEnum):
    """How a phone call went, as the agent reads it."""

    RINGING = "ringing"
    ANSWERED = "answered"
    MISSED = "missed"
    VOICEMAIL = "voicemail"
    FAILED = "failed"


@fast_init
@dataclass(frozen=True, slots=True)
class CallEvent:
    """A CALL message's facts: direction, outcome and seconds talked; the caller is the message's sender
    and the time its `sent_at`. No recording or transcript, only links to them where the admin enables it."""

    direction: Literal["inbound", "outbound"]
    status: CallStatus
    duration: int | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class Address:
    """Where a conversation lives: a connector instance, a chat, a thread, and `handle`: an opaque,
    connector-owned string with whatever else only that platform needs to answer there."""

    instance: str
    chat: str
    thread: str | None = None
    handle: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"Address({self.instance!r}, chat=<{len(self.chat)}>, thread={self.thread is not None})"


@fast_init
@dataclass(frozen=True, slots=True)
class Party:
    """Who sent a message, as the platform identifies them. Personal fields are hidden from repr."""

    id: str
    name: str | None = field(default=None, repr=False)
    username: str | None = field(default=None, repr=False)
    phone: str | None = field(default=None, repr=False)
    email: str | None = field(default=None, repr=False)
    language: str | None = None
    is_bot: bool = False


@fast_init
@dataclass(frozen=True, slots=True)
class MediaRef:
    """A file held by a platform, fetchable through the connector instance that knows it."""

    instance: str
    file_id: str = field(repr=False)


@fast_init
@dataclass(frozen=True, slots=True)
class Attachment:
    """A file in a message: inline bytes, a platform file, or an allowlisted URL."""

    name: str = field(repr=False)
    mime: str = "application/octet-stream"
    size: int | None = None
    data: bytes | None = field(default=None, repr=False)
    ref: MediaRef | None = None
    url: str | None = field(default=None, repr=False)
    caption: RichText = field(default_factory=RichText, repr=False)

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")


def _now() -> datetime:
    return datetime.now(UTC)


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One relayed event. Content fields never appear in repr. TEMPLATE carries `template`; TYPING and READ
    are signals toward the customer (READ: up to message `ref`); `choices` are options offered with the text;
    `choice` is the option a customer picked (their message is a reply to `ref`)."""

    kind: Kind
    id: str
    origin: str
    conversation: Address
    sender: Party | None = None
    text: RichText = field(default_factory=RichText, repr=False)
    attachments: tuple[Attachment, ...] = ()
    ref: str | None = None
    reaction: str | None = field(default=None, repr=False)
    status: Status | None = None
    reason: str | None = None
    sent_at: datetime = field(default_factory=_now)
    event_id: str | None = None
    masked: tuple[tuple[str, int], ...] = ()
    call: CallEvent | None = None
    template: Template | None = None
    choices: Choices | None = None
    choice: Choice | None = None

    def with_(self, **changes: object) -> Message:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def dedup_id(self) -> str:
        """What identifies this event for deduplication: the platform's event id (update_id, event_id,
        activity id) when it has one, else kind + message id (+ status for receipts), per origin."""
        if self.event_id is not None:
            return f"{self.origin}:e:{self.event_id}"
        suffix = f":{self.status}" if self.kind is Kind.STATUS else ""
        return f"{self.origin}:{self.kind}:{self.id}{suffix}"
