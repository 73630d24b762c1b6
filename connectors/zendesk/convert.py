"""Pure conversions between Message and Sunshine Conversations v2 JSON, both ways."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from relay.client import Answer
from relay.connector import Check
from relay.errors import DeliveryError
from relay.model import Address, Attachment, Kind, MediaRef, Message, Party
from relay.reasons import Reason
from relay.richtext import RichText, from_markdown, to_markdown

MAX_EXTERNAL_ID = 1024
MAX_TEXT = 4096
MAX_LABEL = 128
META_CONVERSATION = "relay_conversation"
META_CHANNEL = "relay_channel"
META_ID = "relay_id"
META_NOTICE = "relay_notice"
NOTICE_TEXT = "⚠️ The relay could not deliver the last reply to the customer ({reason})."


def external_id(sealed: str, digest: str) -> str:
    """The SunCo user's externalId: the sealed conversation reference, or its keyed digest when the
    reference is longer than SunCo accepts (1024 characters)."""
    return sealed if len(sealed) <= MAX_EXTERNAL_ID else f"relay-{digest}"


def _label(text: str | None) -> str | None:
    return text.strip()[:MAX_LABEL] or None if text else None


def user_body(ext: str, sender: Party | None, share: Sequence[str]) -> dict[str, Any]:
    """POST /users: the externalId, the display name, and the phone or e-mail only where the admin maps them."""
    body: dict[str, Any] = {"externalId": ext}
    if sender is None:
        return body
    profile = {"givenName": _label(sender.name), "locale": sender.language[:64] if sender.language else None}
    if "email" in share and sender.email and len(sender.email) <= MAX_LABEL:
        profile["email"] = sender.email
    if "phone" in share and sender.phone:
        body["metadata"] = {"phone": sender.phone[:64]}
    if any(profile.values()):
        body["profile"] = {k: v for k, v in profile.items() if v}
    return body


def conversation_metadata(sealed: str, instance: str) -> dict[str, str]:
    """What the relay keeps on a conversation: the sealed reference answers are routed by, and the channel."""
    return {META_CONVERSATION: sealed, META_CHANNEL: instance}


def conversation_body(ext: str, sealed: str, instance: str) -> dict[str, Any]:
    """POST /conversations: a personal conversation of the one user, carrying the relay's metadata."""
    meta = conversation_metadata(sealed, instance)
    return {"type": "personal", "participants": [{"userExternalId": ext}], "metadata": meta}


def pick_conversation(listing: Any, sealed: str) -> tuple[str | None, dict[str, Any] | None]:
    """From GET /conversations?filter[userExternalId]: the first conversation carrying this reference, else
    a personal conversation of the user that carries none (to adopt: id and metadata)."""
    items = listing.get("conversations") if isinstance(listing, dict) else None
    adoptable: dict[str, Any] | None = None
    for conv in items if isinstance(items, list) else ():
        if not isinstance(conv, dict) or not isinstance(conv.get("id"), str):
            continue
        found = conv.get("metadata")
        meta: dict[str, Any] = found if isinstance(found, dict) else {}
        if meta.get(META_CONVERSATION) == sealed:
            return conv["id"], None
        if adoptable is None and conv.get("type") == "personal" and META_CONVERSATION not in meta:
            adoptable = conv
    return None, adoptable


def message_body(
    message: Message, ext: str, relay_id: str, media: tuple[str, str, str] | None = None
) -> dict[str, Any]:
    """POST /messages with the customer as author; `media` is (mediaUrl, kind image|file, alt text)."""
    author: dict[str, Any] = {"type": "user", "userExternalId": ext}
    if message.sender is not None and _label(message.sender.name):
        author["displayName"] = _label(message.sender.name)
    text = message.text
    content: dict[str, Any]
    if media is not None:
        url, kind, alt = media
        content = {"type": kind, "mediaUrl": url, "altText": alt[:MAX_LABEL] or "file"}
    else:
        content = {"type": "text"}
    if text:
        content["text"] = text.plain[:MAX_TEXT]
        styled = to_markdown(text)
        if styled != text.plain and len(styled) <= MAX_TEXT:
            content["markdownText"] = styled
    meta: dict[str, Any] = {META_ID: relay_id} | {f"relay_masked_{kind}": n for kind, n in message.masked}
    return {"author": author, "content": content, "metadata": meta}


def media_kind(att: Attachment) -> str:
    return "image" if att.is_image else "file"


def notice_body(reason: str) -> dict[str, Any]:
    """A business-authored, content-free notice for the agent; its metadata keeps it from being relayed."""
    return {
        "author": {"type": "business", "displayName": "Relay"},
        "content": {"type": "text", "text": NOTICE_TEXT.format(reason=reason)},
        "metadata": {META_NOTICE: reason},
    }


def read_activity(ext: str) -> dict[str, Any]:
    """POST /activity: the customer read the conversation."""
    return {"author": {"type": "user", "userExternalId": ext}, "type": "conversation:read"}


def error_code(answer: Answer) -> str | None:
    """SunCo's `errors[0].code`, if the answer has one."""
    data = answer.json()
    errors = data.get("errors") if isinstance(data, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    code = first.get("code")
    return code[:40] if isinstance(code, str) else None


def refusal(answer: Answer) -> DeliveryError:
    """A non-2xx SunCo answer as a Reason: 423 (conversation full) is refused for good; a 429 without
    Retry-After is left to the engine's exponential backoff with jitter, as SunCo asks."""
    if answer.status == 423:
        return DeliveryError(Reason.PLATFORM_REJECTED, detail="423 conversation full")
    if answer.status == 429:
        return DeliveryError(Reason.THROTTLED, retry_after=answer.retry_after, scope="connector", detail=429)
    return answer.refusal()


def posted_id(answer: Answer) -> str | None:
    """The id of the message a POST /messages created."""
    data = answer.json()
    items = data.get("messages") if isinstance(data, dict) else None
    first = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}
    found = first.get("id")
    return found if isinstance(found, str) and found else None


def find_posted(listing: Any, relay_id: str) -> str | None:
    """The id of a message in a GET /messages page whose metadata carries `relay_id`."""
    items = listing.get("messages") if isinstance(listing, dict) else None
    for item in reversed(items) if isinstance(items, list) else ():
        meta = item.get("metadata") if isinstance(item, dict) else None
        if isinstance(meta, dict) and meta.get(META_ID) == relay_id and isinstance(item.get("id"), str):
            return str(item["id"])
    return None


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


def custom_integrations(listing: Any) -> list[str]:
    """The ids of the custom integrations in GET /integrations."""
    items = listing.get("integrations") if isinstance(listing, dict) else None
    return [str(i["id"]) for i in items or () if isinstance(i, dict) and i.get("type") == "custom" and "id" in i]


def webhook_to(listing: Any, target: str) -> dict[str, Any] | None:
    """The webhook in GET /integrations/{id}/webhooks whose target is `target`."""
    items = listing.get("webhooks") if isinstance(listing, dict) else None
    wanted = target.rstrip("/")
    return next(
        (w for w in items or () if isinstance(w, dict) and str(w.get("target", "")).rstrip("/") == wanted), None
    )


def webhook_checks(found: dict[str, Any], secret: bytes) -> list[Check]:
    """What `relay check` says of the webhook that targets the relay: trigger, payload version, secret."""
    listed = found.get("triggers")
    triggers = [str(t) for t in listed] if isinstance(listed, list) else []
    given = found.get("secret")
    same = hmac.compare_digest(given.encode(), secret) if isinstance(given, str) else None
    return [
        Check("integration webhook", True, f"webhook {found.get('id')} targets this relay"),
        Check("webhook trigger conversation:message", "conversation:message" in triggers, ",".join(triggers)),
        Check("webhook payload version v2", found.get("version") in (None, "v2"), str(found.get("version"))),
        Check("webhook secret equals webhook_secret", same, "compared" if same is not None else "not readable"),
    ]


class Author(_Loose):
    type: str = Field(max_length=32)
    subtypes: list[str] = Field(default=[], max_length=8)
    displayName: str | None = Field(default=None, max_length=1024)


class Content(_Loose):
    type: str = Field(max_length=32)
    text: str | None = Field(default=None, max_length=20_000)
    markdownText: str | None = Field(default=None, max_length=20_000)
    mediaUrl: str | None = Field(default=None, max_length=4096)
    mediaType: str | None = Field(default=None, max_length=255)
    mediaSize: float | None = None
    altText: str | None = Field(default=None, max_length=1024)


class SunMessage(_Loose):
    id: str = Field(min_length=1, max_length=128)
    received: datetime | None = None
    author: Author
    content: Content
    source: dict[str, Any] = {}
    metadata: dict[str, Any] | None = None


class SunConversation(_Loose):
    id: str = Field(min_length=1, max_length=128)
    type: str | None = None
    metadata: dict[str, Any] | None = None


class MessagePayload(_Loose):
    conversation: SunConversation
    message: SunMessage


class Event(_Loose):
    id: str = Field(min_length=1, max_length=128)
    type: str = Field(max_length=64)
    payload: dict[str, Any] = {}


class Envelope(_Loose):
    """A SunCo v2 webhook body: the app, the webhook, and a batch of events."""

    app: dict[str, Any]
    webhook: dict[str, Any] = {}
    events: list[Event] = Field(max_length=1000)


def reference(payload: MessagePayload) -> str | None:
    """The sealed reference the relay put on the conversation, if it is one of the relay's."""
    meta = payload.conversation.metadata or {}
    found = meta.get(META_CONVERSATION)
    return found if isinstance(found, str) and found else None


def relayable(payload: MessagePayload) -> bool:
    """Only the business speaks to the customer: a user message (the relay's own posts coming back, or a
    native channel's) is never relayed, nor an activity notice, nor anything the relay itself posted."""
    msg = payload.message
    if msg.author.type != "business" or "activity" in msg.author.subtypes:
        return False
    return not (msg.metadata and (META_ID in msg.metadata or META_NOTICE in msg.metadata))


def _file_name(content: Content) -> str:
    if content.altText:
        return content.altText[:255]
    path = urlsplit(content.mediaUrl or "").path
    return unquote(path.rsplit("/", 1)[-1])[:255] or "file"


def to_message(event_id: str, payload: MessagePayload, instance: str, address: Address) -> Message:
    """A business message as a Message for the customer's conversation."""
    msg, content = payload.message, payload.message.content
    if content.markdownText:
        text = from_markdown(content.markdownText)
    elif content.text:
        text = RichText.of(content.text)
    else:
        text = RichText()
    attachments: tuple[Attachment, ...] = ()
    if content.type in ("image", "file") and content.mediaUrl:
        size = int(content.mediaSize) if content.mediaSize and content.mediaSize > 0 else None
        mime = content.mediaType or ("image/jpeg" if content.type == "image" else "application/octet-stream")
        ref = MediaRef(instance, content.mediaUrl)
        attachments = (Attachment(name=_file_name(content), mime=mime, size=size, ref=ref),)
    elif content.type not in ("text", "image", "file") and not text:
        text = RichText.of(f"(a {content.type[:32]} message that this channel cannot show)")
    sender = Party(id="business", name=msg.author.displayName)
    return Message(
        kind=Kind.MEDIA if attachments else Kind.TEXT,
        id=msg.id,
        origin=instance,
        conversation=address,
        sender=sender,
        text=text,
        attachments=attachments,
        sent_at=msg.received or datetime.now(UTC),
        event_id=event_id,
    )
