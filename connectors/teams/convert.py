"""Pure conversions between Bot Framework activities and Message; Teams markdown rendering."""

from __future__ import annotations

import base64
import mimetypes
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from relay.errors import BadRequest
from relay.model import Address, Attachment, Kind, MediaRef, Message, Party
from relay.richtext import RichText, Span, Style

THREAD_MARK = ";messageid="
DOWNLOAD_INFO = "application/vnd.microsoft.teams.file.download.info"
DOWNLOAD, INLINE = "d", "i"
KINDS = {"message": Kind.TEXT, "messageUpdate": Kind.EDIT, "messageDelete": Kind.DELETE}
UNREACHABLE_CODES = frozenset({"ConversationBlockedByUser", "BotNotInConversationRoster", "BotDisabledByAdmin"})


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def base_conversation(conversation_id: str) -> str:
    """The conversation id without the `;messageid=` thread suffix of channel threads."""
    return conversation_id.split(THREAD_MARK, 1)[0]


def thread_of(conversation_id: str) -> str | None:
    """The root message id of a channel thread, from `<channel>;messageid=<root>`."""
    _, mark, root = conversation_id.partition(THREAD_MARK)
    return root or None if mark else None


def media_id(kind: str, url: str) -> str:
    """A file id for MediaRef: `d <url>` for pre-authenticated downloads, `i <url>` for bot-token fetches."""
    return f"{kind} {url}"


def parse_media_id(file_id: str) -> tuple[str, str]:
    kind, _, url = file_id.partition(" ")
    return kind, url


def strip_mentions(text: str, entities: Any, bot_id: str | None) -> str:
    """Remove `<at>Bot</at>` mentions of the bot and turn other mentions into `@Name` (per mention entities)."""
    for entity in entities if isinstance(entities, list) else []:
        entity = _obj(entity)
        mentioned = _obj(entity.get("mentioned"))
        mark = _str(entity.get("text"))
        if entity.get("type") != "mention" or not mark:
            continue
        if bot_id and mentioned.get("id") == bot_id:
            text = text.replace(mark, "")
        else:
            text = text.replace(mark, "@" + re.sub(r"</?at>", "", mark))
    return re.sub(r"[ \t]{2,}", " ", text.replace("&nbsp;", " ")).strip()


def _attachments(activity: dict[str, Any], instance: str) -> tuple[Attachment, ...]:
    service_host = urlsplit(_str(activity.get("serviceUrl")) or "").hostname
    out: list[Attachment] = []
    for raw in activity.get("attachments") or []:
        att = _obj(raw)
        ctype = _str(att.get("contentType")) or ""
        content = _obj(att.get("content"))
        url = _str(att.get("contentUrl"))
        if ctype == DOWNLOAD_INFO and _str(content.get("downloadUrl")):
            name = _str(att.get("name")) or "file"
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
            out.append(
                Attachment(name=name, mime=mime, ref=MediaRef(instance, media_id(DOWNLOAD, content["downloadUrl"])))
            )
        elif (
            url
            and ctype.startswith(("image/", "video/", "audio/", "application/"))
            and ctype != DOWNLOAD_INFO
            and not ctype.startswith("application/vnd.microsoft.")
            and urlsplit(url).hostname == service_host
        ):
            name = _str(att.get("name")) or ("image" if ctype.startswith("image/") else "file")
            out.append(Attachment(name=name, mime=ctype, ref=MediaRef(instance, media_id(INLINE, url))))
    return tuple(out)


def _sent_at(activity: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(activity.get("timestamp")))
    except ValueError:
        return datetime.now(UTC)


def address_of(activity: dict[str, Any], instance: str) -> Address:
    """Where replies to this activity go: conversation (with its channel thread), service URL, tenant."""
    conv = _obj(activity.get("conversation"))
    chat = _str(conv.get("id"))
    if chat is None:
        raise BadRequest("activity has no conversation id")
    tenant = _str(conv.get("tenantId")) or _str(_obj(_obj(activity.get("channelData")).get("tenant")).get("id"))
    return Address(
        instance,
        chat=chat,
        thread=thread_of(chat),
        service_url=_str(activity.get("serviceUrl")),
        tenant=tenant,
        chat_type=_str(conv.get("conversationType")),
    )


def to_message(activity: dict[str, Any], instance: str) -> Message | None:
    """A Message for message/messageUpdate/messageDelete activities; None for anything else (ignored)."""
    kind = KINDS.get(str(activity.get("type")))
    if kind is None:
        return None
    act_id = _str(activity.get("id"))
    if act_id is None:
        raise BadRequest("activity has no id")
    address = address_of(activity, instance)
    sender_raw = _obj(activity.get("from"))
    sender = None
    if _str(sender_raw.get("id")):
        sender = Party(
            id=sender_raw["id"], name=_str(sender_raw.get("name")), username=_str(sender_raw.get("aadObjectId"))
        )
    event = f"{address.chat}:{act_id}"
    if kind is Kind.DELETE:
        return Message(
            kind=kind,
            id=f"{act_id}:delete",
            origin=instance,
            conversation=address,
            sender=sender,
            ref=act_id,
            event_id=f"{event}:delete",
            sent_at=_sent_at(activity),
        )
    bot_id = _str(_obj(activity.get("recipient")).get("id"))
    text = strip_mentions(_str(activity.get("text")) or "", activity.get("entities"), bot_id)
    attachments = _attachments(activity, instance)
    if not text and not attachments:
        return None
    if kind is Kind.EDIT:
        stamp = _str(activity.get("timestamp")) or ""
        return Message(
            kind=kind,
            id=f"{act_id}:edit:{stamp}",
            origin=instance,
            conversation=address,
            sender=sender,
            text=RichText.of(text),
            ref=act_id,
            event_id=f"{event}:edit:{stamp}",
            sent_at=_sent_at(activity),
        )
    return Message(
        kind=Kind.MEDIA if attachments else Kind.TEXT,
        id=act_id,
        origin=instance,
        conversation=address,
        sender=sender,
        text=RichText.of(text),
        attachments=attachments,
        event_id=event,
        ref=_str(activity.get("replyToId")),
        sent_at=_sent_at(activity),
    )


_URL_SAFE = ":/?#@!$&'*+,;=%~-._"
_MD_SPECIAL = re.compile(r"([\\`*_~\[\]#|])")


def _escape(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text).replace("\n", "\n\n")


def render(text: RichText) -> str:
    """Teams markdown: **bold**, _italic_, ~~strike~~, `code`, fenced blocks, [links](url); text escaped."""
    out: list[str] = []
    for s in text.spans:
        if Style.PRE in s.style:
            out.append(f"\n```\n{s.text.replace('```', 'ˋˋˋ')}\n```\n")
            continue
        body = f"`{s.text.replace('`', 'ˋ')}`" if Style.CODE in s.style else _escape(s.text)
        for flag, mark in ((Style.ITALIC, "_"), (Style.BOLD, "**"), (Style.STRIKE, "~~")):
            if flag in s.style and body.strip():
                body = f"{mark}{body}{mark}"
        if s.href and urlsplit(s.href).scheme in ("http", "https", "mailto"):
            body = f"[{body}]({quote(s.href, safe=_URL_SAFE)})"
        out.append(body)
    return "".join(out)


def file_line(name: str, link: str | None) -> RichText:
    """The line that stands for a file Teams cannot receive from a bot: a link, or a note."""
    label = f"📎 {name}"
    if link:
        return RichText((Span("\n"), Span(label, Style.NONE, link)))
    return RichText.of(f"\n{label} (file could not be relayed)")


def to_activity(message: Message, text: RichText, images: Sequence[tuple[str, str, bytes]]) -> dict[str, Any]:
    """The activity JSON for a message: markdown text and inline images as data URIs."""
    body: dict[str, Any] = {"type": "message", "textFormat": "markdown", "text": render(text)}
    if images:
        body["attachments"] = [
            {"contentType": mime, "name": name, "contentUrl": f"data:{mime};base64,{base64.b64encode(data).decode()}"}
            for mime, name, data in images
        ]
    if message.ref is not None and message.kind is not Kind.EDIT:
        body["replyToId"] = message.ref
    return body


def error_code(data: Any) -> str | None:
    """The Bot Connector error code (`{"error": {"code": ...}}`), if any."""
    code = _obj(_obj(data).get("error")).get("code")
    return code if isinstance(code, str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", code) else None
