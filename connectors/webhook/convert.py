"""Pure conversions between Message and the webhook JSON contract (docs/webhook-contract.md), both ways."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from connectors.webhook import interactive
from relay import codec
from relay.client import REDIRECTS, Call
from relay.http import sign
from relay.keyed import HmacSha256
from relay.model import Address, Attachment, Kind, Message, Party
from relay.richtext import RichText, from_markdown, to_markdown

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
    Kind.CALL: "call",
    Kind.TEMPLATE: "message",
    Kind.TYPING: "typing",
    Kind.READ: "read",
}


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
    if message.masked:
        body["masked"] = dict(message.masked)
    choice = interactive.choice_event(message.choice)
    if choice is not None:
        body["choice"] = choice
    payload: dict[str, Any] = {
        "type": EVENT_TYPES[message.kind],
        "conversation": conversation,
        "channel": message.conversation.instance,
        "message": body,
    }
    if message.call is not None:
        call = message.call
        payload["call"] = {"direction": call.direction, "status": call.status.value, "duration": call.duration}
    sender = _party(message.sender)
    if sender:
        payload["sender"] = sender
    return payload


EXPECTED: dict[str, tuple[str, str]] = {
    "body": (
        "a JSON object with conversation, id and text",
        '{"conversation": "c1.k1.…", "id": "crm-991", "text": "Hi"}',
    ),
    "conversation": ("the event's `conversation` string, unchanged", '"c1.k1.oZZvPV8eHZoUwWn6i…"'),
    "id": ("your own message id, a non-empty string or integer of at most 256 characters", '"crm-991"'),
    "type": ("one of message, edit, delete, reaction, template, typing, read, opt_out, opt_in", '"message"'),
    "format": ('"markdown" (the default) or "plain"', '"plain"'),
    "text": ("a string of at most 100000 characters", '"It ships **today**."'),
    "attachments": (
        "a list of at most 10 objects with url, name, mime",
        '[{"url": "https://files.example.com/a.pdf"}]',
    ),
    "attachments.N": ("an object with url, name, mime", '{"url": "https://files.example.com/a.pdf", "name": "a.pdf"}'),
    "attachments.N.url": ("an http(s) URL of at most 4096 characters", '"https://files.example.com/a.pdf"'),
    "attachments.N.name": ("a file name of at most 255 characters", '"invoice.pdf"'),
    "attachments.N.mime": ("a MIME type of at most 255 characters", '"application/pdf"'),
    "reply_to": ("the id of the message meant, at most 256 characters", '"123456789:42"'),
    "reaction": ("one emoji, at most 64 characters", '"👍"'),
} | interactive.EXPECTED


def _id(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Id = Annotated[str, BeforeValidator(_id), Field(min_length=1, max_length=256)]


AnswerType = Literal["message", "template", "edit", "delete", "reaction", "typing", "read", "opt_out", "opt_in"]


class InboundAttachment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(pattern=r"^https?://", max_length=4096)
    name: str = Field(default="file", max_length=255)
    mime: str = Field(default="application/octet-stream", max_length=255)


class InboundBody(BaseModel):
    """What the CRM POSTs to /hooks/<instance>."""

    model_config = ConfigDict(extra="ignore")
    type: AnswerType = "message"
    conversation: str = Field(min_length=1, max_length=4096)
    id: Id
    text: str = Field(default="", max_length=100_000)
    format: Literal["plain", "markdown"] = "markdown"
    attachments: list[InboundAttachment] = Field(default=[], max_length=10)
    reply_to: Annotated[str, BeforeValidator(_id), Field(max_length=256)] | None = None
    reaction: str | None = Field(default=None, max_length=64)
    template: interactive.TemplateBody | None = None
    choices: interactive.ChoicesBody | None = None
    up_to: Annotated[str, BeforeValidator(_id), Field(max_length=256)] | None = None


_KINDS = {
    "message": Kind.TEXT,
    "edit": Kind.EDIT,
    "delete": Kind.DELETE,
    "reaction": Kind.REACTION,
    "opt_out": Kind.OPT_OUT,
    "opt_in": Kind.OPT_IN,
    "template": Kind.TEMPLATE,
    "typing": Kind.TYPING,
    "read": Kind.READ,
}


def from_body(body: InboundBody, instance: str, address: Address) -> Message:
    """A CRM answer as a Message for the conversation it quotes; a consent action carries nothing else."""
    if body.type in ("opt_out", "opt_in", "typing", "read"):
        ref = body.up_to if body.type == "read" else None
        return Message(kind=_KINDS[body.type], id=body.id, origin=instance, conversation=address, ref=ref)
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
        template=interactive.template(body.template) if body.template and kind is Kind.TEMPLATE else None,
        choices=interactive.choices(body.choices) if body.choices else None,
    )


def to_call(url: str, macs: Sequence[HmacSha256], event_id: str, payload: dict[str, Any], timeout: float) -> Call:
    """The signed POST of one event to the CRM (one v1 per secret during a rotation); the CRM
    de-duplicates by event id, so it is idempotent."""
    body = codec.dumps(payload)
    signature = sign(macs[0], body)
    t = signature.split(",", 1)[0].removeprefix("t=")
    extra = "".join(f",v1={mac.hexdigest(f'{t}.'.encode(), body)}" for mac in macs[1:])
    headers = {
        "Content-Type": "application/json",
        "X-Relay-Signature": signature + extra,
        "X-Relay-Event-Id": event_id,
    }
    return Call("POST", url, headers, body, timeout=timeout, idempotent=True)


def crm_id(raw: bytes) -> str | None:
    """The CRM's id for the event from a JSON answer `{"id": ...}`, if it gave one."""
    if not raw.lstrip().startswith(b"{"):
        return None
    try:
        data = codec.loads(raw)
    except ValueError:
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return str(value) if isinstance(value, str | int) and value != "" else None


def ping(instance: str) -> tuple[str, dict[str, Any]]:
    """The `relay check` event: shaped like every other event, with its own event id, no conversation."""
    event_id = f"ping-{secrets.token_hex(8)}"
    message = {"id": event_id, "text": "", "markdown": "", "attachments": [], "sent_at": _now()}
    return event_id, {"type": "ping", "conversation": "", "channel": instance, "message": message}


def _now() -> str:
    return datetime.now(UTC).isoformat()


def url_fault(instance: str, status: int) -> str | None:
    """What a 404 or redirect from the CRM means for the admin: a wrong `url`, not a refused message."""
    if status != 404 and status not in REDIRECTS:
        return None
    what = "has no endpoint there (404)" if status == 404 else f"redirects elsewhere (HTTP {status})"
    return (
        f"connectors.{instance}.url: the CRM {what}, so messages are held and retried; "
        "set it to the exact URL of the deployed flow or webhook (no redirect)"
    )
