"""Pure conversions: WhatsApp webhook JSON -> Messages and receipts; Messages -> Graph send bodies."""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.whatsapp.markup import parse, reason_for, render
from relay.errors import BadRequest
from relay.model import Address, Attachment, Kind, MediaRef, Message, Party, Status
from relay.richtext import RichText, Span

MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")
# Meta redelivers a webhook for up to 7 days; a signed body about anything older is a replay. One hour of
# margin for clocks.
MAX_AGE = 7 * 24 * 3600 + 3600
RANK = {"sent": 1, "delivered": 2, "read": 3, "played": 3}
STATUSES = {
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.READ,
    "played": Status.READ,
    "failed": Status.FAILED,
}
_EXT = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/aac": ".aac",
    "audio/amr": ".amr",
    "video/mp4": ".mp4",
    "video/3gpp": ".3gp",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
}


@dataclass(frozen=True, slots=True)
class Incoming:
    """A customer message with what the connector's policies need: who, when, and a keyword candidate."""

    message: Message
    wa_id: str
    timestamp: int
    keyword: str | None


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery status of an outbound message."""

    message: Message
    wamid: str
    rank: int
    timestamp: int
    code: int | None


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        yield from (v for v in value if isinstance(v, dict))


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ts(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _when(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC) if ts > 0 else datetime.now(UTC)


def too_old(timestamp: int, now: float) -> bool:
    """Whether an item's timestamp is past the window in which Meta could still be redelivering it."""
    return 0 < timestamp < now - MAX_AGE


def file_name(kind: str, mime: str, given: str | None = None) -> str:
    """A file name for an attachment: the sender's, or the type plus an extension from the MIME type."""
    if given:
        return given
    base = mime.split(";")[0].strip().lower()
    ext = _EXT.get(base) or mimetypes.guess_extension(base) or ""
    return f"{kind}{ext}"


def parse_payload(data: Any, instance: str, phone_number_id: str) -> tuple[list[Incoming], list[Receipt]]:
    """Every message and status in a webhook body addressed to our phone number id; others are ignored."""
    if not isinstance(data, dict):
        raise BadRequest("webhook body is not a JSON object")
    incoming: list[Incoming] = []
    receipts: list[Receipt] = []
    for entry in _dicts(data.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if change.get("field") != "messages" or not isinstance(value, dict):
                continue
            meta = value.get("metadata")
            if not isinstance(meta, dict) or str(meta.get("phone_number_id")) != phone_number_id:
                continue
            names = {str(c.get("wa_id")): _obj(c.get("profile")).get("name") for c in _dicts(value.get("contacts"))}
            for raw in _dicts(value.get("messages")):
                item = _message(raw, instance, names)
                if item is not None:
                    incoming.append(item)
            for raw in _dicts(value.get("statuses")):
                receipt = _receipt(raw, instance)
                if receipt is not None:
                    receipts.append(receipt)
    return incoming, receipts


def _message(raw: dict[str, Any], instance: str, names: dict[str, Any]) -> Incoming | None:
    wamid, wa_id = raw.get("id"), raw.get("from")
    if not isinstance(wamid, str) or not isinstance(wa_id, str) or not wamid or not wa_id:
        return None
    ts = _ts(raw.get("timestamp"))
    name = names.get(wa_id)
    context = _obj(raw.get("context"))
    ctx_id = context.get("id") if isinstance(context.get("id"), str) else None
    base = Message(
        kind=Kind.TEXT,
        id=wamid,
        event_id=wamid,
        origin=instance,
        conversation=Address(instance, wa_id),
        sender=Party(id=wa_id, name=name if isinstance(name, str) else None, phone=wa_id),
        ref=ctx_id,
        sent_at=_when(ts),
    )
    kind = str(raw.get("type", ""))
    body = _obj(raw.get(kind))
    keyword: str | None = None
    if kind == "text":
        text = str(body.get("body", ""))
        message = base.with_(text=parse(text))
        keyword = text.strip().casefold()
    elif kind in MEDIA_TYPES and isinstance(body.get("id"), str):
        message = base.with_(
            kind=Kind.MEDIA, attachments=(_attachment(kind, body, instance),), text=parse(str(body.get("caption", "")))
        )
    elif kind == "location":
        message = base.with_(text=_location(body))
    elif kind == "contacts":
        message = base.with_(text=RichText.of(_contacts(raw.get("contacts"))))
    elif kind == "interactive":
        reply = _obj(body.get(str(body.get("type", ""))))
        title, extra = reply.get("title"), reply.get("description")
        if not isinstance(title, str):
            return Incoming(_unsupported(base, kind), wa_id, ts, None)
        message = base.with_(text=RichText.of(f"{title}\n{extra}" if isinstance(extra, str) and extra else title))
    elif kind == "button":
        message = base.with_(text=RichText.of(str(body.get("text", ""))))
    elif kind == "reaction" and isinstance(body.get("message_id"), str):
        message = base.with_(kind=Kind.REACTION, ref=body["message_id"], reaction=str(body.get("emoji") or ""))
    else:
        message = _unsupported(base, kind, raw.get("errors"))
    return Incoming(message, wa_id, ts, keyword)


def _unsupported(base: Message, kind: str, errors: Any = None) -> Message:
    code = next((e.get("code") for e in _dicts(errors) if isinstance(e.get("code"), int)), None)
    reason = reason_for(code) if code is not None else "unsupported_message_type"
    label = kind if kind.isidentifier() and len(kind) < 40 else "unknown"
    text = RichText.of(f"[The customer sent a message WhatsApp does not pass on (type: {label}).]")
    return base.with_(kind=Kind.TEXT, text=text, reason=reason)


def _attachment(kind: str, body: dict[str, Any], instance: str) -> Attachment:
    mime = str(body.get("mime_type") or "application/octet-stream")
    given = body.get("filename") if isinstance(body.get("filename"), str) else None
    if kind == "audio" and body.get("voice"):
        kind = "voice"
    size = body.get("file_size") if isinstance(body.get("file_size"), int) else None
    return Attachment(
        name=file_name(kind, mime, given),
        mime=mime.split(";")[0].strip(),
        size=size,
        ref=MediaRef(instance, body["id"]),
    )


def _location(body: dict[str, Any]) -> RichText:
    lat, lng = body.get("latitude"), body.get("longitude")
    lines = [str(v) for v in (body.get("name"), body.get("address")) if isinstance(v, str) and v]
    head = "📍 " + (" - ".join(lines) if lines else "Location")
    if not isinstance(lat, int | float) or not isinstance(lng, int | float):
        return RichText.of(head)
    url = f"https://maps.google.com/?q={lat},{lng}"
    return RichText((Span(head + "\n"), Span(url, href=url)))


def _contacts(value: Any) -> str:
    out: list[str] = []
    for card in _dicts(value):
        name = _obj(card.get("name"))
        lines = [f"👤 {name.get('formatted_name') or name.get('first_name') or 'Contact'}"]
        lines += [f"📞 {p['phone']}" for p in _dicts(card.get("phones")) if isinstance(p.get("phone"), str)]
        lines += [f"✉️ {e['email']}" for e in _dicts(card.get("emails")) if isinstance(e.get("email"), str)]
        out.append("\n".join(lines))
    return "\n\n".join(out) or "👤 Contact"


def _receipt(raw: dict[str, Any], instance: str) -> Receipt | None:
    wamid, state, recipient = raw.get("id"), raw.get("status"), raw.get("recipient_id")
    if not isinstance(wamid, str) or state not in STATUSES or not isinstance(recipient, str):
        return None
    code = next((e.get("code") for e in _dicts(raw.get("errors")) if isinstance(e.get("code"), int)), None)
    ts = _ts(raw.get("timestamp"))
    status = STATUSES[state]
    message = Message(
        kind=Kind.STATUS,
        id=f"{wamid}:{state}",
        event_id=f"{wamid}:{state}",
        origin=instance,
        conversation=Address(instance, recipient),
        ref=wamid,
        status=status,
        sent_at=_when(ts),
        reason=reason_for(code) if status is Status.FAILED else None,
    )
    return Receipt(message, wamid, RANK.get(state, 0), ts, code)


def text_body(to: str, text: RichText, ref: str | None) -> dict[str, Any]:
    """A free-form text send."""
    rendered = render(text)
    body = envelope(to, ref)
    body.update(type="text", text={"body": rendered, "preview_url": "http" in rendered})
    return body


def envelope(to: str, ref: str | None) -> dict[str, Any]:
    """The common part of every send, with the quoted message when replying."""
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
    if ref:
        body["context"] = {"message_id": ref}
    return body


def media_kind(mime: str) -> str:
    """Which WhatsApp media type carries a file of this MIME type."""
    base = mime.split(";")[0].strip().lower()
    if base in ("image/jpeg", "image/png"):
        return "image"
    if base in ("video/mp4", "video/3gpp"):
        return "video"
    if base in ("audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"):
        return "audio"
    return "document"


def media_body(to: str, kind: str, media_id: str, name: str, caption: str, ref: str | None) -> dict[str, Any]:
    """A send of an uploaded file by its media id."""
    obj: dict[str, Any] = {"id": media_id}
    if caption and kind != "audio":
        obj["caption"] = caption
    if kind == "document":
        obj["filename"] = name
    body = envelope(to, ref)
    body.update(type=kind, **{kind: obj})
    return body


def reaction_body(to: str, ref: str, emoji: str) -> dict[str, Any]:
    """A reaction (an empty emoji removes it)."""
    body = envelope(to, None)
    body.update(type="reaction", reaction={"message_id": ref, "emoji": emoji})
    return body


def template_body(to: str, name: str, language: str, parameter: str | None) -> dict[str, Any]:
    """A template send; `parameter` fills body variable {{1}} (newlines and runs of spaces are not allowed)."""
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if parameter is not None:
        flat = " ".join(parameter.split()) or "-"
        template["components"] = [{"type": "body", "parameters": [{"type": "text", "text": flat[:1024]}]}]
    body = envelope(to, None)
    body.update(type="template", template=template)
    return body
