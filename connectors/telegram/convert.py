"""Pure conversions: Telegram updates (Bot API JSON) -> Message, and the platform ids the connector hands out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from connectors.telegram import schema
from connectors.telegram.markup import entity_tuples, parse
from relay.model import Address, Attachment, Kind, MediaRef, Message, Party
from relay.richtext import RichText

DOWNLOAD_CAP = 20 * 1024 * 1024
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "message_reaction")
GROUP_TYPES = ("group", "supergroup")
_UNSUPPORTED = ("poll", "dice", "game", "story", "invoice")
_MEDIA_KEYS = frozenset(("photo", "animation", "document", "voice", "audio", "video", "video_note"))


@dataclass(frozen=True, slots=True)
class Accept:
    """Which chat types are relayed."""

    private: bool = True
    groups: bool = False

    def allows(self, chat_type: str) -> bool:
        return (chat_type == "private" and self.private) or (chat_type in GROUP_TYPES and self.groups)


def platform_id(chat_id: int | str, message_id: int | str) -> str:
    """The id of a Telegram message everywhere in the relay: message ids are unique per chat only."""
    return f"{chat_id}:{message_id}"


def parse_platform_id(value: str | None) -> tuple[int, int] | None:
    """(chat_id, message_id) from `platform_id`, or None if it is not one."""
    if not value:
        return None
    chat, sep, mid = value.rpartition(":")
    try:
        return (int(chat), int(mid)) if sep else None
    except ValueError:
        return None


def _int(value: object) -> int | None:
    return value if type(value) is int else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: object) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _date(value: int | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def party(user: schema.User | None) -> Party | None:
    """Who wrote: id, username, name and language; nothing else of the profile. None without an integer id."""
    if not isinstance(user, dict) or (uid := _int(user.get("id"))) is None:
        return None
    first, last = _str(user.get("first_name")), _str(user.get("last_name"))
    return Party(
        id=str(uid),
        name=(f"{first} {last}" if last else first) if first else None,
        username=_str(user.get("username")),
        language=_str(user.get("language_code")),
        is_bot=user.get("is_bot") is True,
    )


def _file(value: object) -> schema.File | None:
    if isinstance(value, dict) and isinstance(value.get("file_id"), str):
        return cast(schema.File, value)
    return None


def _size(item: schema.File | schema.PhotoSize) -> int | None:
    return _int(item.get("file_size"))


def _largest_photo(value: object, cap: int) -> schema.PhotoSize | None:
    sizes = [cast(schema.PhotoSize, p) for p in value if _file(p)] if isinstance(value, list) else []
    within = [p for p in sizes if (_size(p) or 0) <= cap]
    pool = within or sizes
    if not pool:
        return None
    return max(pool, key=lambda p: ((_int(p.get("width")) or 0) * (_int(p.get("height")) or 0), _size(p) or 0))


def attachment(msg: schema.Message, instance: str) -> Attachment | None:
    """The file a message carries, as a platform reference (fetched on demand, never stored)."""
    if _MEDIA_KEYS.isdisjoint(msg):
        return None
    mid = msg.get("message_id")

    def make(f: schema.File | schema.PhotoSize, name: str, mime: str) -> Attachment:
        return Attachment(name, mime, _size(f), ref=MediaRef(instance, f["file_id"]))

    def named(f: schema.File, default: str) -> str:
        return _str(f.get("file_name")) or default

    def typed(f: schema.File, default: str) -> str:
        return _str(f.get("mime_type")) or default

    if p := _largest_photo(msg.get("photo"), DOWNLOAD_CAP):
        return make(p, f"photo_{mid}.jpg", "image/jpeg")
    if a := _file(msg.get("animation")):
        return make(a, named(a, f"animation_{mid}.mp4"), typed(a, "video/mp4"))
    if d := _file(msg.get("document")):
        return make(d, named(d, f"document_{mid}"), typed(d, "application/octet-stream"))
    if v := _file(msg.get("voice")):
        return make(v, f"voice_{mid}.ogg", typed(v, "audio/ogg"))
    if a2 := _file(msg.get("audio")):
        return make(a2, named(a2, f"audio_{mid}.mp3"), typed(a2, "audio/mpeg"))
    if v2 := _file(msg.get("video")):
        return make(v2, named(v2, f"video_{mid}.mp4"), typed(v2, "video/mp4"))
    if n := _file(msg.get("video_note")):
        return make(n, f"video_note_{mid}.mp4", "video/mp4")
    return None


def _maps(lat: float, lon: float) -> str:
    return f"{lat:.6f}, {lon:.6f}\nhttps://maps.google.com/?q={lat:.6f},{lon:.6f}"


def _place(value: object) -> str | None:
    if not isinstance(value, dict):
        return None
    lat, lon = _number(value.get("latitude")), _number(value.get("longitude"))
    return _maps(lat, lon) if lat is not None and lon is not None else None


def _venue(v: schema.Venue) -> RichText | None:
    title, address, where = _str(v.get("title")), _str(v.get("address")), _place(v.get("location"))
    if title is None or address is None or where is None:
        return None
    return RichText.of(f"📍 {title}, {address}\n{where}")


def _contact(c: schema.Contact) -> RichText | None:
    first, phone = _str(c.get("first_name")), _str(c.get("phone_number"))
    if first is None or phone is None:
        return None
    name = " ".join(x for x in (first, _str(c.get("last_name"))) if x)
    user_id = _int(c.get("user_id"))
    who = f" (Telegram user {user_id})" if user_id else ""
    return RichText.of(f"👤 Shared contact: {name}, {phone}{who}")


def body_text(msg: schema.Message) -> RichText | None:
    """The text a message shows: text or caption with styles, or a description of a sticker, place or
    contact; None for service messages (joins, pins, ...) and kinds the relay does not carry."""
    if (text := _str(msg.get("text"))) is not None:
        return parse(text, entity_tuples(msg.get("entities")))
    if (caption := _str(msg.get("caption"))) is not None:
        return parse(caption, entity_tuples(msg.get("caption_entities")))
    if isinstance(sticker := msg.get("sticker"), dict):
        emoji = _str(sticker.get("emoji"))
        return RichText.of(f"[sticker {emoji}]" if emoji else "[sticker]")
    if isinstance(venue := msg.get("venue"), dict) and (shown := _venue(venue)) is not None:
        return shown
    if (where := _place(msg.get("location"))) is not None:
        return RichText.of(f"📍 Location: {where}")
    if isinstance(contact := msg.get("contact"), dict) and (shown := _contact(contact)) is not None:
        return shown
    raw = cast(Mapping[str, object], msg)
    for kind in _UNSUPPORTED:
        if raw.get(kind) is not None:
            return RichText.of(f"[unsupported Telegram message: {kind}]")
    return None


_HANDLES = {t: f'{{"chat_type":"{t}"}}' for t in ("private", "group", "supergroup", "channel")}


def handle(chat_type: str) -> str:
    """The address handle: the chat type, written as the core writes first-format references."""
    return _HANDLES.get(chat_type) or f'{{"chat_type":{json.dumps(chat_type)}}}'


def chat_type(address: Address) -> str | None:
    """The chat type an address handle holds, if any."""
    try:
        found = json.loads(address.handle) if address.handle else None
    except ValueError:
        return None
    value = found.get("chat_type") if isinstance(found, dict) else None
    return value if isinstance(value, str) else None


def grouped(address: Address) -> bool:
    """A group, supergroup or channel (by its handle, or a negative chat id for very old references)."""
    kind = chat_type(address)
    return kind in (*GROUP_TYPES, "channel") or (kind is None and address.chat.startswith("-"))


def address_of(msg: Mapping[str, object], instance: str, chat_id: int, kind: str) -> Address:
    """The conversation of a message (its forum topic as the thread) with the chat type as the handle."""
    thread = _int(msg.get("message_thread_id")) if msg.get("is_topic_message") is True else None
    return Address(instance=instance, chat=str(chat_id), thread=str(thread) if thread else None, handle=handle(kind))


def _reply_ref(msg: schema.Message, chat_id: int) -> str | None:
    target = msg.get("reply_to_message")
    if not isinstance(target, dict) or (target_id := _int(target.get("message_id"))) is None:
        return None
    if msg.get("is_topic_message") is True and target_id == _int(msg.get("message_thread_id")):
        return None
    return platform_id(chat_id, target_id)


def to_message(update: Mapping[str, Any], instance: str, accept: Accept) -> Message | None:
    """The Message for one update (its Bot API JSON), or None when the relay does not carry it (other
    chats, service messages, channel posts) or its ids, chat or date are malformed. `/start` arrives as
    the text "/start" (with its deep-link payload)."""
    data = cast(schema.Update, update)
    edited = data.get("edited_message") is not None
    msg = data.get("edited_message") if edited else data.get("message")
    if not isinstance(msg, dict) or not isinstance(chat := msg.get("chat"), dict):
        return None
    chat_id, kind = _int(chat.get("id")), _str(chat.get("type"))
    if chat_id is None or kind is None or not accept.allows(kind):
        return None
    mid, event, date = _int(msg.get("message_id")), _int(data.get("update_id")), _date(_int(msg.get("date")))
    sender = party(msg.get("from"))
    if mid is None or event is None or date is None or (sender is None and msg.get("from") is not None):
        return None
    text = body_text(msg)
    att = attachment(msg, instance)
    if text is None and att is None:
        return None
    pid = platform_id(chat_id, mid)
    edit_date = _int(msg.get("edit_date")) if edited else None
    edited_at = _date(edit_date)
    return Message(
        kind=Kind.EDIT if edited else Kind.MEDIA if att is not None else Kind.TEXT,
        id=f"{pid}:edit:{edit_date if edited_at else 0}" if edited else pid,
        origin=instance,
        conversation=address_of(msg, instance, chat_id, kind),
        sender=sender,
        text=text or RichText(),
        attachments=(att,) if att is not None else (),
        ref=pid if edited else _reply_ref(msg, chat_id),
        sent_at=edited_at or date,
        event_id=str(event),
    )
