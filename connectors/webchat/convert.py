"""Pure conversions between the chat page's JSON and Message."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from relay.model import Address, Kind, Message, Party
from relay.richtext import RichText, to_html

MAX_TEXT = 4000
MAX_NAME = 80


class ChatPost(BaseModel):
    """What the chat page POSTs for one customer message."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    name: str | None = Field(default=None, max_length=MAX_NAME)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("blank")
        return value


def refusal(exc: ValidationError) -> str:
    """Why a post was refused, per field, with the limits it broke (never the values)."""
    why: dict[str, str] = {}
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "body"
        kind = err["type"]
        if kind == "string_too_long":
            why[field] = f"{field} (at most {err.get('ctx', {}).get('max_length')} characters)"
        elif field == "text" and kind in ("string_too_short", "value_error"):
            why[field] = "text (empty or only spaces)"
        else:
            why.setdefault(field, field)
    return "invalid fields: " + ", ".join(why[f] for f in sorted(why))


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
