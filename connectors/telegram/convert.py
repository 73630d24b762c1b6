"""Pure conversions: Telegram updates -> Message, and the platform ids the connector hands out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from telegram import Message as TgMessage
from telegram import PhotoSize, Update, User

from connectors.telegram.markup import entity_tuples, parse
from relay.model import Address, Attachment, Kind, MediaRef, Message, Party
from relay.richtext import RichText

DOWNLOAD_CAP = 20 * 1024 * 1024
ALLOWED_UPDATES = ("message", "edited_message")
GROUP_TYPES = ("group", "supergroup")


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


def party(user: User | None) -> Party | None:
    """Who wrote: id, username, name and language; nothing else of the profile."""
    if user is None:
        return None
    return Party(
        id=str(user.id),
        name=user.full_name or None,
        username=user.username,
        language=user.language_code,
        is_bot=bool(user.is_bot),
    )


def _largest_photo(sizes: tuple[PhotoSize, ...], cap: int) -> PhotoSize:
    within = [p for p in sizes if (p.file_size or 0) <= cap]
    pool = within or list(sizes)
    return max(pool, key=lambda p: (p.width * p.height, p.file_size or 0))


def attachment(msg: TgMessage, instance: str) -> Attachment | None:
    """The file a message carries, as a platform reference (fetched on demand, never stored)."""
    mid = msg.message_id

    def ref(file_id: str) -> MediaRef:
        return MediaRef(instance, file_id)

    if msg.photo:
        p = _largest_photo(msg.photo, DOWNLOAD_CAP)
        return Attachment(f"photo_{mid}.jpg", "image/jpeg", p.file_size, ref=ref(p.file_id))
    if msg.animation:
        a = msg.animation
        return Attachment(
            a.file_name or f"animation_{mid}.mp4", a.mime_type or "video/mp4", a.file_size, ref=ref(a.file_id)
        )
    if msg.document:
        d = msg.document
        return Attachment(
            d.file_name or f"document_{mid}", d.mime_type or "application/octet-stream", d.file_size, ref=ref(d.file_id)
        )
    if msg.voice:
        v = msg.voice
        return Attachment(f"voice_{mid}.ogg", v.mime_type or "audio/ogg", v.file_size, ref=ref(v.file_id))
    if msg.audio:
        a2 = msg.audio
        return Attachment(
            a2.file_name or f"audio_{mid}.mp3", a2.mime_type or "audio/mpeg", a2.file_size, ref=ref(a2.file_id)
        )
    if msg.video:
        v2 = msg.video
        return Attachment(
            v2.file_name or f"video_{mid}.mp4", v2.mime_type or "video/mp4", v2.file_size, ref=ref(v2.file_id)
        )
    if msg.video_note:
        n = msg.video_note
        return Attachment(f"video_note_{mid}.mp4", "video/mp4", n.file_size, ref=ref(n.file_id))
    return None


def _maps(lat: float, lon: float) -> str:
    return f"{lat:.6f}, {lon:.6f}\nhttps://maps.google.com/?q={lat:.6f},{lon:.6f}"


def body_text(msg: TgMessage) -> RichText | None:
    """The text a message shows: text or caption with styles, or a description of a sticker, place or
    contact; None for service messages (joins, pins, ...) and kinds the relay does not carry."""
    if msg.text is not None:
        return parse(msg.text, entity_tuples(msg.entities))
    if msg.caption is not None:
        return parse(msg.caption, entity_tuples(msg.caption_entities))
    if msg.sticker is not None:
        return RichText.of(f"[sticker {msg.sticker.emoji}]" if msg.sticker.emoji else "[sticker]")
    if msg.venue is not None:
        v = msg.venue
        return RichText.of(f"📍 {v.title}, {v.address}\n{_maps(v.location.latitude, v.location.longitude)}")
    if msg.location is not None:
        return RichText.of(f"📍 Location: {_maps(msg.location.latitude, msg.location.longitude)}")
    if msg.contact is not None:
        c = msg.contact
        name = " ".join(x for x in (c.first_name, c.last_name) if x)
        who = f" (Telegram user {c.user_id})" if c.user_id else ""
        return RichText.of(f"👤 Shared contact: {name}, {c.phone_number}{who}")
    for kind in ("poll", "dice", "game", "story", "invoice"):
        if getattr(msg, kind, None) is not None:
            return RichText.of(f"[unsupported Telegram message: {kind}]")
    return None


def _address(msg: TgMessage, instance: str) -> Address:
    thread = str(msg.message_thread_id) if msg.is_topic_message and msg.message_thread_id else None
    return Address(instance=instance, chat=str(msg.chat.id), thread=thread, chat_type=msg.chat.type)


def _reply_ref(msg: TgMessage) -> str | None:
    target = msg.reply_to_message
    if target is None:
        return None
    if msg.is_topic_message and target.message_id == msg.message_thread_id:
        return None
    return platform_id(msg.chat.id, target.message_id)


def _timestamp(value: datetime | None) -> int:
    return int(value.timestamp()) if value is not None else 0


def to_message(update: Update, instance: str, accept: Accept) -> Message | None:
    """The Message for one update, or None when the relay does not carry it (other chats, service
    messages, channel posts). `/start` arrives as the text "/start" (with its deep-link payload)."""
    edited = update.edited_message is not None
    msg = update.edited_message or update.message
    if msg is None or not accept.allows(msg.chat.type):
        return None
    text = body_text(msg)
    att = attachment(msg, instance)
    if text is None and att is None:
        return None
    pid = platform_id(msg.chat.id, msg.message_id)
    return Message(
        kind=Kind.EDIT if edited else Kind.MEDIA if att is not None else Kind.TEXT,
        id=f"{pid}:edit:{_timestamp(msg.edit_date)}" if edited else pid,
        origin=instance,
        conversation=_address(msg, instance),
        sender=party(msg.from_user),
        text=text or RichText(),
        attachments=(att,) if att is not None else (),
        ref=pid if edited else _reply_ref(msg),
        sent_at=(msg.edit_date or msg.date) if edited else msg.date,
        event_id=str(update.update_id),
    )
