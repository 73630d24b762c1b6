"""The Bot API JSON shapes the inbound conversion reads: only the fields it uses, as Telegram documents
them. Updates arrive unchecked, so readers still test each value before trusting it."""

from __future__ import annotations

from typing import TypedDict


class User(TypedDict, total=False):
    """A user or bot."""

    id: int
    is_bot: bool
    first_name: str
    last_name: str
    username: str
    language_code: str


class Chat(TypedDict, total=False):
    """The chat a message belongs to."""

    id: int
    type: str


class MessageEntity(TypedDict, total=False):
    """One styled range of a text or caption, in UTF-16 code units; `url` only for text_link."""

    type: str
    offset: int
    length: int
    url: str


class PhotoSize(TypedDict, total=False):
    """One size of a photo."""

    file_id: str
    width: int
    height: int
    file_size: int


class File(TypedDict, total=False):
    """An animation, document, voice, audio, video or video note."""

    file_id: str
    file_name: str
    mime_type: str
    file_size: int


class Sticker(TypedDict, total=False):
    """A sticker."""

    emoji: str


class Location(TypedDict, total=False):
    """A point on the map."""

    latitude: float
    longitude: float


class Venue(TypedDict, total=False):
    """A named place."""

    location: Location
    title: str
    address: str


class Contact(TypedDict, total=False):
    """A shared phone contact."""

    phone_number: str
    first_name: str
    last_name: str
    user_id: int


_Sender = TypedDict("_Sender", {"from": User}, total=False)


class Message(_Sender, total=False):
    """A message or an edited message."""

    message_id: int
    message_thread_id: int
    is_topic_message: bool
    chat: Chat
    date: int
    edit_date: int
    reply_to_message: Message
    text: str
    entities: list[MessageEntity]
    caption: str
    caption_entities: list[MessageEntity]
    photo: list[PhotoSize]
    animation: File
    document: File
    voice: File
    audio: File
    video: File
    video_note: File
    sticker: Sticker
    venue: Venue
    location: Location
    contact: Contact


class Update(TypedDict, total=False):
    """One update; the relay asks for messages and edited messages only."""

    update_id: int
    message: Message
    edited_message: Message
