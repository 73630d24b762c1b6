"""Pure conversions between the chat page's JSON and Message."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from relay.model import Address, Kind, Message, Party
from relay.richtext import RichText, to_html


class ChatPost(BaseModel):
    """What the chat page POSTs for one customer message."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    text: str = Field(min_length=1, max_length=4000)
    name: str | None = Field(default=None, max_length=80)


def customer_message(post: ChatPost, instance: str, visitor: str) -> Message:
    return Message(
        kind=Kind.TEXT,
        id=f"{visitor}:{post.id}",
        origin=instance,
        conversation=Address(instance, visitor),
        sender=Party(id=visitor, name=post.name or None),
        text=RichText.of(post.text),
    )


def reply_view(message: Message, item_id: str, links: list[dict[str, Any]]) -> dict[str, Any]:
    """A reply (or notice) as the chat page shows it."""
    return {
        "id": item_id,
        "kind": message.kind.value,
        "html": to_html(message.text),
        "attachments": links,
        "sent_at": message.sent_at.isoformat(),
        "ref": message.ref,
        "reaction": message.reaction,
    }
