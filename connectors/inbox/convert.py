"""Pure conversions between Message and the inbox's in-memory items and JSON views."""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from relay.model import Attachment, Kind, Message
from relay.richtext import RichText, from_markdown, to_html


@dataclass(slots=True)
class Item:
    """One line of a conversation thread, in memory."""

    id: str
    direction: str
    kind: str
    html: str = field(repr=False)
    sent_at: datetime
    sender: str | None = field(default=None, repr=False)
    attachments: list[dict[str, Any]] = field(default_factory=list, repr=False)
    status: str | None = None
    reason: str | None = None
    reaction: str | None = field(default=None, repr=False)
    edited: bool = False
    deleted: bool = False

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "direction": self.direction,
            "kind": self.kind,
            "html": self.html,
            "sent_at": self.sent_at.isoformat(),
            "sender": self.sender,
            "attachments": self.attachments,
            "status": self.status,
            "reason": self.reason,
            "reaction": self.reaction,
            "edited": self.edited,
            "deleted": self.deleted,
        }


def sender_label(message: Message) -> str:
    p = message.sender
    if p is None:
        return "Customer"
    return p.name or (f"@{p.username}" if p.username else f"Customer {p.id[-6:]}")


def inbound_item(message: Message, links: list[dict[str, Any]]) -> Item:
    """An item for a customer message arriving at the inbox."""
    return Item(
        id=uuid.uuid4().hex,
        direction="in",
        kind=message.kind.value,
        html=to_html(message.text),
        sent_at=message.sent_at,
        sender=sender_label(message),
        attachments=links,
    )


def notice_item(text: str) -> Item:
    return Item(
        id=uuid.uuid4().hex,
        direction="system",
        kind=Kind.NOTICE.value,
        html=html.escape(text),
        sent_at=datetime.now(UTC),
    )


def agent_message(text: str, instance: str, conversation: Any, item_id: str) -> Message:
    """The Message an agent's reply becomes."""
    return Message(kind=Kind.TEXT, id=item_id, origin=instance, conversation=conversation, text=from_markdown(text))


def agent_item(text: str) -> Item:
    return Item(
        id=uuid.uuid4().hex,
        direction="out",
        kind=Kind.TEXT.value,
        html=to_html(from_markdown(text)),
        sent_at=datetime.now(UTC),
        sender="Agent",
        status="sending",
    )


def attachment_view(att: Attachment, url: str | None) -> dict[str, Any]:
    return {"name": att.name, "mime": att.mime, "size": att.size, "url": url}


def edit_html(text: RichText) -> str:
    return to_html(text)
