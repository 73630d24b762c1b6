"""Pure conversions: webhook JSON -> Messages and receipts; Messages -> Graph calls; answers -> ids or errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp

from connectors.whatsapp.compose import changed_number, envelope, flow, pick
from connectors.whatsapp.config import WhatsAppConfig
from connectors.whatsapp.markup import contacts, dicts, file_name, location, obj, parse, reason_for, render
from relay import codec
from relay.client import Answer, Call
from relay.errors import DeliveryError, MediaError
from relay.model import Address, Attachment, Kind, MediaRef, Message, Party, Status
from relay.reasons import Reason
from relay.richtext import RichText

MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")
MEDIA_HOSTS = ("*.fbsbx.com", "*.facebook.com", "*.fbcdn.net", "*.whatsapp.net")
MEDIA_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
RANK = {"sent": 1, "delivered": 2, "read": 3, "played": 3}
STATUSES = {"sent": Status.SENT, "delivered": Status.DELIVERED, "read": Status.READ, "failed": Status.FAILED}
STATUSES["played"] = Status.READ
NUMBER_CHANGED = "The customer changed their WhatsApp number; replies here now reach the new one."
TEMPLATE_FIELDS = "name,language,status,category,parameter_format,components"


@dataclass(frozen=True, slots=True)
class Incoming:
    """A customer message with what the connector's policies need: who, when, a keyword candidate, and the
    new address of a customer who changed their number."""

    message: Message
    wa_id: str
    timestamp: int
    keyword: str | None
    moved_to: str | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery status of an outbound message."""

    message: Message
    wamid: str
    rank: int
    timestamp: int
    code: int | None


def _ts(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _code(errors: Any) -> int | None:
    return next((e.get("code") for e in dicts(errors) if isinstance(e.get("code"), int)), None)


def _when(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC) if ts > 0 else datetime.now(UTC)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def incoming(raw: dict[str, Any], instance: str, profiles: dict[str, dict[str, Any]]) -> Incoming | None:
    """A customer message of a webhook, or None when it names no sender or id. A user with a username may
    come without a phone (`from`): the business-scoped `from_user_id` is then their address."""
    wamid, phone, user_id = _str(raw.get("id")), _str(raw.get("from")), _str(raw.get("from_user_id"))
    wa_id = phone or user_id
    if wamid is None or wa_id is None:
        return None
    ts = _ts(raw.get("timestamp"))
    profile = profiles.get(wa_id) or profiles.get(user_id or "") or {}
    name, username = _str(profile.get("name")), _str(profile.get("username"))
    context = obj(raw.get("context"))
    base = Message(
        kind=Kind.TEXT,
        id=wamid,
        event_id=wamid,
        origin=instance,
        conversation=Address(instance, wa_id),
        sender=Party(id=user_id or wa_id, name=name, username=username, phone=phone),
        ref=_str(context.get("id")),
        sent_at=_when(ts),
    )
    kind = str(raw.get("type", ""))
    body = obj(raw.get(kind))
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
        message = base.with_(text=location(body))
    elif kind == "contacts":
        message = base.with_(text=RichText.of(contacts(raw.get("contacts"))))
    elif kind in ("interactive", "button"):
        choice = pick(kind, body) or flow(kind, body)
        if choice is None:
            return Incoming(_unsupported(base, kind), wa_id, ts, None)
        extra = f"\n{choice.description}" if choice.description else ""
        message = base.with_(text=RichText.of(choice.title + extra), choice=choice)
    elif kind == "system" and (moved := changed_number(body)) is not None:
        sender = replace(moved[1], name=name, username=username)
        return Incoming(
            base.with_(kind=Kind.NOTICE, text=RichText.of(NUMBER_CHANGED), sender=sender), wa_id, ts, None, moved[0]
        )
    elif kind == "reaction" and isinstance(body.get("message_id"), str):
        message = base.with_(kind=Kind.REACTION, ref=body["message_id"], reaction=str(body.get("emoji") or ""))
    else:
        message = _unsupported(base, kind, raw.get("errors"))
    return Incoming(message, wa_id, ts, keyword)


def _unsupported(base: Message, kind: str, errors: Any = None) -> Message:
    code = _code(errors)
    reason = (reason_for(code) if code is not None else Reason.UNSUPPORTED).value
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


def receipt(raw: dict[str, Any], instance: str) -> Receipt | None:
    """A status of an outbound message, or None when it is not one the relay forwards."""
    wamid, state = raw.get("id"), raw.get("status")
    recipient = _str(raw.get("recipient_id")) or _str(raw.get("recipient_user_id"))
    if not isinstance(wamid, str) or state not in STATUSES or recipient is None:
        return None
    code = _code(raw.get("errors"))
    ts = _ts(raw.get("timestamp"))
    status = STATUSES[state]
    failure = reason_for(code) if code is not None else Reason.PLATFORM_REJECTED
    message = Message(
        kind=Kind.STATUS,
        id=f"{wamid}:{state}",
        event_id=f"{wamid}:{state}",
        origin=instance,
        conversation=Address(instance, recipient),
        ref=wamid,
        status=status,
        sent_at=_when(ts),
        reason=failure.value if status is Status.FAILED else None,
    )
    return Receipt(message, wamid, RANK.get(state, 0), ts, code)


def text_body(to: str, text: RichText, ref: str | None) -> dict[str, Any]:
    """A free-form text send."""
    rendered = render(text)
    body = envelope(to, ref)
    body.update(type="text", text={"body": rendered, "preview_url": "http" in rendered})
    return body


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


def _auth(config: WhatsAppConfig) -> dict[str, str]:
    return {"Authorization": f"Bearer {config.access_token.reveal()}"}


def send_call(config: WhatsAppConfig, body: dict[str, Any]) -> Call:
    """POST /{phone-number-id}/messages (not idempotent: Meta does not de-duplicate sends)."""
    headers = _auth(config) | {"Content-Type": "application/json"}
    url = f"{config.graph_url}/{config.phone_number_id}/messages"
    return Call("POST", url, headers, codec.dumps(body), timeout=config.timeout)


def upload_call(config: WhatsAppConfig, data: bytes, mime: str, name: str) -> Call:
    """POST /{phone-number-id}/media: a file uploaded from memory as multipart."""
    form = aiohttp.FormData()
    form.add_field("messaging_product", "whatsapp")
    form.add_field("type", mime)
    form.add_field("file", data, filename=name, content_type=mime)
    return Call(
        "POST", f"{config.graph_url}/{config.phone_number_id}/media", _auth(config), form, timeout=config.timeout
    )


def lookup_call(config: WhatsAppConfig, media_id: str) -> Call:
    """GET /{media-id}: the short-lived URL, type, size and sha256 of a customer's file."""
    url = f"{config.graph_url}/{media_id}?phone_number_id={config.phone_number_id}"
    return Call("GET", url, _auth(config), timeout=config.timeout)


def download_call(config: WhatsAppConfig, url: str) -> Call:
    """GET the short-lived URL with the token, only on Meta's hosts (or the configured API host)."""
    hosts = (*MEDIA_HOSTS, urlsplit(config.api_base_url).netloc)
    return Call("GET", url, _auth(config), timeout=600.0, read_timeout=config.timeout, hosts=hosts)


def templates_call(config: WhatsAppConfig, waba: str, after: str | None) -> Call:
    """GET /{business-account-id}/message_templates: one page of the templates, as Meta describes them."""
    query = {"fields": TEMPLATE_FIELDS, "limit": "100"} | ({"after": after} if after else {})
    return Call("GET", f"{config.graph_url}/{waba}/message_templates?{urlencode(query)}", _auth(config))


def number_call(config: WhatsAppConfig) -> Call:
    """GET /{phone-number-id}: does the token reach the number?"""
    url = f"{config.graph_url}/{config.phone_number_id}?fields=display_phone_number,verified_name"
    return Call("GET", url, _auth(config), timeout=config.timeout)


def graph_code(answer: Answer) -> int | None:
    """The Graph error code of a refused call, if the body names one."""
    data = answer.json()
    error = data.get("error") if isinstance(data, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else None


def wamid(answer: Answer) -> str:
    """The id of a sent message, from `{"messages": [{"id": ...}]}`."""
    data = answer.json()
    messages = data.get("messages") if isinstance(data, dict) else None
    found = messages[0].get("id") if isinstance(messages, list) and messages and isinstance(messages[0], dict) else None
    if isinstance(found, str) and found:
        return found
    raise DeliveryError(Reason.PLATFORM_BAD_RESPONSE, detail=answer.status)


def media_id(answer: Answer) -> str:
    """The id of an uploaded file, from `{"id": ...}`."""
    data = answer.json()
    found = data.get("id") if isinstance(data, dict) else None
    if isinstance(found, str | int) and str(found):
        return str(found)
    raise DeliveryError(Reason.PLATFORM_BAD_RESPONSE, detail=answer.status)


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """Where a customer's file can be fetched for a few minutes, and what Graph says it is."""

    url: str
    mime: str | None
    size: int | None
    sha256: str | None


def media_info(answer: Answer) -> MediaInfo:
    """A media lookup's answer; MediaError when there is no URL."""
    if answer.status != 200:
        raise MediaError(f"WhatsApp media lookup answered {answer.status}")
    data = answer.json()
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        raise MediaError("WhatsApp media lookup gave no URL")
    mime, size, sha = data.get("mime_type"), data.get("file_size"), data.get("sha256")
    return MediaInfo(
        data["url"],
        mime.split(";")[0].strip() if isinstance(mime, str) and mime else None,
        size if isinstance(size, int) else None,
        sha if isinstance(sha, str) and _SHA256.match(sha) else None,
    )
