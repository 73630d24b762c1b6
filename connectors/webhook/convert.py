"""Pure conversions between Message and the webhook JSON contract (docs/webhook-contract.md)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from relay.connector import ConnectorConfig
from relay.model import Address, Attachment, Kind, Message, Party
from relay.richtext import RichText, from_markdown, to_markdown
from relay.strength import Strong

EVENT_TYPES = {
    Kind.TEXT: "message",
    Kind.MEDIA: "message",
    Kind.EDIT: "edit",
    Kind.DELETE: "delete",
    Kind.REACTION: "reaction",
    Kind.STATUS: "status",
    Kind.OPT_OUT: "opt_out",
    Kind.OPT_IN: "opt_in",
    Kind.NOTICE: "notice",
}


class WebhookConfig(ConnectorConfig):
    """`type = "webhook"`: where to POST, and the shared HMAC secret."""

    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    secret: Strong
    inbound_secret: Strong | None = None
    timeout: float = Field(default=10.0, gt=0, le=120)
    ack_deadline: float = Field(default=10.0, gt=0, le=120)
    inline_media_max: int = Field(default=0, ge=0, le=5 << 20)
    max_rate: float | None = Field(default=None, gt=0)


def _party(p: Party | None) -> dict[str, Any] | None:
    if p is None:
        return None
    fields = {
        "id": p.id,
        "name": p.name,
        "username": p.username,
        "phone": p.phone,
        "email": p.email,
        "language": p.language,
        "is_bot": p.is_bot,
    }
    return {k: v for k, v in fields.items() if v is not None}


def to_payload(
    message: Message,
    conversation: str,
    link: Callable[[Attachment], str | None],
    inline: dict[int, bytes],
) -> dict[str, Any]:
    """The JSON the CRM receives for one message. `inline` maps attachment index -> bytes sent inline."""
    attachments = []
    for i, att in enumerate(message.attachments):
        item: dict[str, Any] = {"name": att.name, "mime": att.mime, "size": att.size}
        url = link(att) or att.url
        if url:
            item["url"] = url
        if i in inline:
            item["data"] = base64.b64encode(inline[i]).decode()
        if att.caption:
            item["caption"] = att.caption.plain
        attachments.append(item)
    body: dict[str, Any] = {
        "id": message.id,
        "text": message.text.plain,
        "markdown": to_markdown(message.text),
        "attachments": attachments,
        "sent_at": message.sent_at.isoformat(),
    }
    for key, value in (
        ("reply_to", message.ref),
        ("reaction", message.reaction),
        ("status", message.status and message.status.value),
        ("reason", message.reason),
    ):
        if value is not None:
            body[key] = value
    payload: dict[str, Any] = {
        "type": EVENT_TYPES[message.kind],
        "conversation": conversation,
        "channel": message.conversation.instance,
        "message": body,
    }
    sender = _party(message.sender)
    if sender:
        payload["sender"] = sender
    return payload


class InboundAttachment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(pattern=r"^https?://", max_length=4096)
    name: str = Field(default="file", max_length=255)
    mime: str = Field(default="application/octet-stream", max_length=255)


class InboundBody(BaseModel):
    """What the CRM POSTs to /hooks/<instance>."""

    model_config = ConfigDict(extra="ignore")
    type: Literal["message", "edit", "delete", "reaction"] = "message"
    conversation: str = Field(min_length=1, max_length=4096)
    id: str = Field(min_length=1, max_length=256)
    text: str = Field(default="", max_length=100_000)
    format: Literal["plain", "markdown"] = "markdown"
    attachments: list[InboundAttachment] = Field(default=[], max_length=10)
    reply_to: str | None = Field(default=None, max_length=256)
    reaction: str | None = Field(default=None, max_length=64)


_KINDS = {"message": Kind.TEXT, "edit": Kind.EDIT, "delete": Kind.DELETE, "reaction": Kind.REACTION}


def from_body(body: InboundBody, instance: str, address: Address) -> Message:
    """A CRM answer as a Message for the conversation it quotes."""
    text = from_markdown(body.text) if body.format == "markdown" else RichText.of(body.text)
    attachments = tuple(Attachment(name=a.name, mime=a.mime, url=a.url) for a in body.attachments)
    kind = _KINDS[body.type]
    if kind is Kind.TEXT and attachments:
        kind = Kind.MEDIA
    ref = body.reply_to
    return Message(
        kind=kind,
        id=body.id,
        origin=instance,
        conversation=address,
        text=text,
        attachments=attachments,
        ref=ref,
        reaction=body.reaction,
    )
