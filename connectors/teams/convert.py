"""Pure conversions: Bot Framework activities to Message, Message to the activity Call, answers to ids or Reasons."""

from __future__ import annotations

import base64
import json
import mimetypes
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from relay import codec
from relay.client import Answer, Call
from relay.errors import BadRequest, DeliveryError
from relay.model import Address, Attachment, Kind, MediaRef, Message, Party
from relay.reasons import Reason
from relay.richtext import RichText, Span, Style, utf16_len
from relay.seal import legacy_handle

THREAD_MARK = ";messageid="
DOWNLOAD_INFO = "application/vnd.microsoft.teams.file.download.info"
DOWNLOAD, INLINE = "d", "i"
KINDS = {"message": Kind.TEXT, "messageUpdate": Kind.EDIT, "messageDelete": Kind.DELETE}
UNREACHABLE_CODES = frozenset({"ConversationBlockedByUser", "BotNotInConversationRoster", "BotDisabledByAdmin"})
BUSY = frozenset({412, 502, 503, 504})
PAYLOAD_BUDGET = 14_000
SEND_TIMEOUT = 30.0


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


def party_of(activity: dict[str, Any]) -> Party | None:
    """Who sent an activity: the Teams user id, display name and Entra object id."""
    raw = _obj(activity.get("from"))
    if not _str(raw.get("id")):
        return None
    return Party(id=raw["id"], name=_str(raw.get("name")), username=_str(raw.get("aadObjectId")))


def sent_at(activity: dict[str, Any]) -> datetime:
    """When the activity happened (its timestamp, else now)."""
    try:
        return datetime.fromisoformat(str(activity.get("timestamp")))
    except ValueError:
        return datetime.now(UTC)


def address_of(activity: dict[str, Any], instance: str) -> Address:
    """Where replies to this activity go: the conversation (with its channel thread), and as the handle the
    service URL and conversation type, written as the core writes first-format references."""
    conv = _obj(activity.get("conversation"))
    chat = _str(conv.get("id"))
    if chat is None:
        raise BadRequest("activity has no conversation id")
    handle = legacy_handle(_str(activity.get("serviceUrl")), _str(conv.get("conversationType")))
    return Address(instance, chat=chat, thread=thread_of(chat), handle=handle)


def _handle(address: Address) -> dict[str, Any]:
    try:
        return _obj(json.loads(address.handle)) if address.handle else {}
    except ValueError:
        return {}


def service_url(address: Address) -> str | None:
    """The Bot Connector service URL an address's handle holds, if any."""
    return _str(_handle(address).get("service_url"))


def chat_type(address: Address) -> str | None:
    """The conversation type (personal, groupChat, channel) an address's handle holds, if any."""
    return _str(_handle(address).get("chat_type"))


def to_message(activity: dict[str, Any], instance: str) -> Message | None:
    """A Message for message/messageUpdate/messageDelete activities; None for anything else (ignored)."""
    kind = KINDS.get(str(activity.get("type")))
    if kind is None:
        return None
    act_id = _str(activity.get("id"))
    if act_id is None:
        raise BadRequest("activity has no id")
    address = address_of(activity, instance)
    event = f"{address.chat}:{act_id}"
    common: dict[str, Any] = {"origin": instance, "conversation": address, "sender": party_of(activity)}
    common["sent_at"] = sent_at(activity)
    if kind is Kind.DELETE:
        return Message(kind=kind, id=f"{act_id}:delete", ref=act_id, event_id=f"{event}:delete", **common)
    bot_id = _str(_obj(activity.get("recipient")).get("id"))
    text = strip_mentions(_str(activity.get("text")) or "", activity.get("entities"), bot_id)
    attachments = _attachments(activity, instance)
    if not text and not attachments:
        return None
    if kind is Kind.EDIT:
        stamp = _str(activity.get("timestamp")) or ""
        edit_id, edit_event = f"{act_id}:edit:{stamp}", f"{event}:edit:{stamp}"
        return Message(kind=kind, id=edit_id, text=RichText.of(text), ref=act_id, event_id=edit_event, **common)
    return Message(
        kind=Kind.MEDIA if attachments else Kind.TEXT,
        id=act_id,
        text=RichText.of(text),
        attachments=attachments,
        event_id=event,
        ref=_str(activity.get("replyToId")),
        **common,
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
    """The activity JSON for a message: markdown text (plain when the markup would not fit the payload
    budget) and inline images as data URIs."""
    body: dict[str, Any] = {"type": "message", "textFormat": "markdown", "text": render(text)}
    if images:
        body["attachments"] = [
            {"contentType": mime, "name": name, "contentUrl": f"data:{mime};base64,{base64.b64encode(data).decode()}"}
            for mime, name, data in images
        ]
    if message.ref is not None and message.kind is not Kind.EDIT:
        body["replyToId"] = message.ref
    if utf16_len(json.dumps({**body, "attachments": []}, ensure_ascii=False)) > PAYLOAD_BUDGET:
        body.update(textFormat="plain", text=text.plain)
    return body


def activities_url(service: str, chat: str, activity: str | None = None) -> str:
    """The conversation's activities URL on its service (percent-encoded), or one activity's."""
    url = f"{service.rstrip('/')}/v3/conversations/{quote(chat, safe='')}/activities"
    return f"{url}/{quote(activity, safe='')}" if activity else url


def to_call(message: Message, service: str, body: dict[str, Any] | None, token: str, hosts: Sequence[str]) -> Call:
    """The Bot Connector request: DELETE (no body), PUT (an edit of `ref`), or POST (a reply to `ref` if set).
    The service URL came from the platform, so the call names the hosts it may go to."""
    headers = {"Authorization": f"Bearer {token}"}
    method, data = "DELETE", None
    if body is not None:
        method = "PUT" if message.kind is Kind.EDIT and message.ref else "POST"
        data = codec.dumps({**body, "id": message.ref} if method == "PUT" else body)
        headers["Content-Type"] = "application/json; charset=utf-8"
    url = activities_url(service, message.conversation.chat, message.ref)
    return Call(method, url, headers, data, timeout=SEND_TIMEOUT, hosts=tuple(hosts), encoded=True)


def sent_id(answer: Answer) -> str | None:
    """The activity id of a 2xx answer, if it names one."""
    found = _obj(answer.json()).get("id")
    return found if isinstance(found, str) and found else None


def refusal(answer: Answer) -> DeliveryError:
    """What a non-2xx Bot Connector answer means: 429 throttled and 412/502/503/504 busy (per chat), a 403
    naming a blocked or removed bot the recipient unreachable, 401 the bot's credentials, anything else a
    refusal for good (the detail names the Bot Connector's error code, or the status)."""
    status = answer.status
    if status == 429:
        return DeliveryError(Reason.THROTTLED, retry_after=answer.retry_after or 1.0, scope="chat", detail=status)
    if status in BUSY:
        return DeliveryError(Reason.PLATFORM_BUSY, retry_after=answer.retry_after, scope="chat", detail=status)
    code = error_code(answer.json())
    if status == 403 and code in UNREACHABLE_CODES:
        return DeliveryError(Reason.RECIPIENT_UNREACHABLE, detail=code)
    if status == 413:
        return DeliveryError(Reason.MESSAGE_TOO_LARGE, detail=status)
    if status == 401:
        return DeliveryError(Reason.PLATFORM_AUTH_FAILED, scope="connector", detail=status)
    return DeliveryError(Reason.PLATFORM_REJECTED, detail=code or status)


def error_code(data: Any) -> str | None:
    """The Bot Connector error code (`{"error": {"code": ...}}`), if any."""
    code = _obj(_obj(data).get("error")).get("code")
    return code if isinstance(code, str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", code) else None
