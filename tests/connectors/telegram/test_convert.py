"""Pure conversions: every inbound update type, hostile input, ids and config (rich text is in test_markup)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from telegram import Update, User

from connectors.telegram import EXAMPLE_CONFIG, TelegramConfig, schema
from connectors.telegram.convert import Accept, chat_type, parse_platform_id, platform_id, to_message
from relay.model import Kind, Message
from relay.richtext import RichText, Span, Style
from tests.connectors.telegram.helpers import PAYLOADS, payload

PRIVATE_ONLY = Accept()


def convert(name: str, accept: Accept = PRIVATE_ONLY, **changes: Any) -> Message | None:
    return to_message(payload(name, **changes), "tg", accept)


def test_text_carries_ids_sender_and_styles() -> None:
    m = convert("text")
    assert m is not None and m.kind is Kind.TEXT
    assert m.id == "123456789:42" and m.event_id == "583920113" and m.origin == "tg"
    assert m.conversation.chat == "123456789" and chat_type(m.conversation) == "private"
    assert m.sender is not None
    assert (m.sender.id, m.sender.name, m.sender.username, m.sender.language) == (
        "123456789",
        "Ana Lima",
        "ana_l",
        "de",
    )
    assert m.sender.phone is None and m.sender.email is None
    assert m.text.plain == "Hallo, wo ist *meine* Bestellung? 😀 bold"
    assert m.text.spans[-1] == Span("bold", Style.BOLD)


@pytest.mark.parametrize(
    ("name", "mime", "size", "file_id", "filename"),
    [
        ("photo", "image/jpeg", 98231, "AgACAgQAAxkBl", "photo_43.jpg"),
        ("document", "application/pdf", 48213, "BQACAgQAAxkBd", "rechnung.pdf"),
        ("voice", "audio/ogg", 9120, "AwACAgQAAxkBv", "voice_45.ogg"),
        ("audio", "audio/mpeg", 2931200, "CQACAgQAAxkBa", "song.mp3"),
        ("video", "video/mp4", 1048576, "BAACAgQAAxkBvid", "clip.mp4"),
    ],
)
def test_media_become_platform_file_references(name: str, mime: str, size: int, file_id: str, filename: str) -> None:
    m = convert(name)
    assert m is not None and m.kind is Kind.MEDIA
    (att,) = m.attachments
    assert (att.mime, att.size, att.name) == (mime, size, filename)
    assert att.ref is not None and (att.ref.instance, att.ref.file_id) == ("tg", file_id)
    assert att.data is None and att.url is None


def test_photo_caption_becomes_text_and_largest_photo_within_cap_is_chosen() -> None:
    m = convert("photo")
    assert m is not None and m.text.plain == "Beleg" and m.text.spans[0].style == Style.ITALIC
    huge = payload("photo")["message"]
    huge["photo"][-1]["file_size"] = 30 * 1024 * 1024
    m2 = convert("photo", message=huge)
    assert m2 is not None and m2.attachments[0].ref is not None
    assert m2.attachments[0].ref.file_id == "AgACAgQAAxkBm"


def test_sticker_location_contact_become_text() -> None:
    sticker, location, contact = convert("sticker"), convert("location"), convert("contact")
    assert sticker is not None and sticker.kind is Kind.TEXT and sticker.text.plain == "[sticker 😀]"
    assert location is not None and "52.520008, 13.404954" in location.text.plain
    assert "https://maps.google.com/?q=52.520008,13.404954" in location.text.plain
    assert contact is not None and "Bruno Keller" in contact.text.plain and "+49301234567" in contact.text.plain
    assert "+49301234567" not in repr(contact)


def test_edit_reply_and_start() -> None:
    edit = convert("edited")
    assert edit is not None and edit.kind is Kind.EDIT and edit.ref == "123456789:42"
    assert edit.id != "123456789:42" and edit.text.plain == "Hallo, wo ist meine Lieferung?"
    reply = convert("reply")
    assert reply is not None and reply.ref == "123456789:1001"
    start = convert("start")
    assert start is not None and start.kind is Kind.TEXT and start.text.plain == "/start"


def test_chat_filter_and_service_messages() -> None:
    assert convert("group_text") is None
    group = convert("group_text", accept=Accept(private=False, groups=True))
    assert group is not None and group.conversation.chat == "-1001234567890"
    assert chat_type(group.conversation) == "supergroup"
    assert convert("text", accept=Accept(private=False, groups=True)) is None
    assert convert("member_joined") is None


MESSAGES = sorted(p.stem for p in PAYLOADS.glob("*.json") if not p.stem.startswith(("callback", "message_reaction")))


@pytest.mark.parametrize("name", MESSAGES)
def test_recorded_payloads_parse_in_ptb_and_agree_with_the_conversion(name: str) -> None:
    update = Update.de_json(payload(name), None)
    msg = update.edited_message or update.message
    assert msg is not None and msg.from_user is not None
    m = to_message(payload(name), "tg", Accept(private=True, groups=True))
    if name == "member_joined":
        assert m is None and msg.new_chat_members
        return
    assert m is not None and m.sender is not None
    pid = platform_id(msg.chat.id, msg.message_id)
    edited = msg.edit_date
    assert m.id == (f"{pid}:edit:{int(edited.timestamp())}" if update.edited_message and edited else pid)
    assert (m.conversation.chat, chat_type(m.conversation)) == (str(msg.chat.id), msg.chat.type)
    assert m.event_id == str(update.update_id)
    assert m.sent_at == (msg.edit_date or msg.date) and m.sent_at.utcoffset() == timedelta(0)
    user = msg.from_user
    assert (m.sender.id, m.sender.name, m.sender.username, m.sender.language, m.sender.is_bot) == (
        str(user.id),
        user.full_name,
        user.username,
        user.language_code,
        user.is_bot,
    )


def test_full_name_follows_ptb() -> None:
    for user in (
        {"id": 1, "is_bot": False, "first_name": "Ana"},
        {"id": 1, "is_bot": False, "first_name": "Ana", "last_name": ""},
        {"id": 1, "is_bot": False, "first_name": "", "last_name": "Lima"},
    ):
        m = convert("text", message=payload("text")["message"] | {"from": user})
        assert m is not None and m.sender is not None
        assert m.sender.name == (User.de_json(user, None).full_name or None)


DROP = object()


def text_with(**fields: Any) -> Message | None:
    """The recorded text message with some fields replaced (DROP removes one), converted."""
    message = payload("text")["message"] | fields
    message = {k: v for k, v in message.items() if v is not DROP}
    return to_message({"update_id": 1, "message": message}, "tg", PRIVATE_ONLY)


@pytest.mark.parametrize(
    "fields",
    [
        {"chat": "123456789"},
        {"chat": [123456789]},
        {"chat": None},
        {"chat": {"id": "123456789", "type": "private"}},
        {"chat": {"id": True, "type": "private"}},
        {"chat": {"id": 123456789, "type": 1}},
        {"chat": {"id": 123456789}},
        {"message_id": "42"},
        {"message_id": 42.0},
        {"message_id": None},
        {"message_id": DROP},
        {"text": 5},
        {"text": ["Hallo"]},
        {"date": "1736935242"},
        {"date": DROP},
        {"date": 10**30},
        {"from": "Ana"},
        {"from": {"first_name": "Ana"}},
        {"from": {"id": "123456789", "first_name": "Ana"}},
    ],
)
def test_hostile_message_fields_give_none(fields: dict[str, Any]) -> None:
    assert text_with(**fields) is None


@pytest.mark.parametrize(
    "update",
    [
        {"update_id": "1", "message": payload("text")["message"]},
        {"update_id": 1, "message": "Hallo"},
        {"update_id": 1, "message": [payload("text")["message"]]},
        {"update_id": 1, "edited_message": 7, "message": payload("text")["message"]},
        {"update_id": 1},
        {},
    ],
)
def test_hostile_updates_give_none(update: dict[str, Any]) -> None:
    assert to_message(update, "tg", PRIVATE_ONLY) is None


def test_junk_entities_and_optional_parts_are_left_out() -> None:
    plain = payload("text")["message"]["text"]
    junk: list[object] = [
        None,
        1,
        "bold",
        [0, 4],
        {"type": 5, "offset": 0, "length": 4},
        {"type": "bold", "offset": "0"},
    ]
    junk += [{"type": "italic", "offset": True, "length": 2}, {"type": "text_link", "offset": 0, "length": 5, "url": 7}]
    junk += [{"type": "bold", "offset": 10**9, "length": 10**9}, {"type": "bold", "offset": -3, "length": 2}]
    m = text_with(entities=[*junk, {"type": "bold", "offset": 0, "length": 5}])
    assert m is not None and m.text.plain == plain
    assert m.text.spans == (Span("Hallo", Style.BOLD), Span(plain[5:]))
    m2 = text_with(entities={"type": "bold"})
    assert m2 is not None and m2.text == RichText.of(plain)
    m3 = text_with(reply_to_message={"message_id": "1001"}, is_topic_message="yes", message_thread_id=5)
    assert m3 is not None and m3.ref is None and m3.conversation.thread is None
    m4 = text_with(**{"from": {"id": 7, "first_name": 3, "username": ["x"], "is_bot": "yes"}})
    assert m4 is not None and m4.sender is not None
    assert (m4.sender.id, m4.sender.name, m4.sender.username, m4.sender.is_bot) == ("7", None, None, False)


def test_junk_files_fall_back_to_the_caption() -> None:
    photo = payload("photo")["message"]
    photo["photo"] = [1, None, {"file_id": 5, "width": 90}, {"width": 90, "height": 60}]
    m = convert("photo", message=photo)
    assert m is not None and m.kind is Kind.TEXT and m.attachments == () and m.text.plain == "Beleg"
    doc = payload("document")["message"]
    doc["document"] = {"file_id": "BQACAgQAAxkBd", "file_name": 3, "mime_type": None, "file_size": "big"}
    m2 = convert("document", message=doc)
    assert m2 is not None and m2.attachments[0].name == "document_44"
    assert (m2.attachments[0].mime, m2.attachments[0].size) == ("application/octet-stream", None)
    doc["document"] = "BQACAgQAAxkBd"
    assert convert("document", message=doc) is None


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_fields = st.sampled_from(sorted(schema.Message.__optional_keys__ | {"poll", "dice"}))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_fields, _json, max_size=4), st.booleans())
def test_any_json_in_any_field_never_raises(fields: dict[str, Any], edited: bool) -> None:
    message = payload("photo")["message"] | fields
    m = to_message({"update_id": 1, "edited_message" if edited else "message": message}, "tg", Accept(True, True))
    assert m is None or (m.id.startswith(f"{m.conversation.chat}:") and isinstance(m.text.plain, str))


def test_platform_ids_round_trip() -> None:
    assert parse_platform_id(platform_id(-1001234567890, 77)) == (-1001234567890, 77)
    for bad in (None, "", "42", "a:b", "crm-1"):
        assert parse_platform_id(bad) is None


def test_config_rules() -> None:
    TelegramConfig.model_validate(EXAMPLE_CONFIG)
    with pytest.raises(ValidationError, match="secret_token is required"):
        TelegramConfig.model_validate({k: v for k, v in EXAMPLE_CONFIG.items() if k != "secret_token"})
    with pytest.raises(ValidationError):
        TelegramConfig.model_validate(EXAMPLE_CONFIG | {"secret_token": "has spaces!"})
    polling = TelegramConfig.model_validate({"type": "telegram", "token": EXAMPLE_CONFIG["token"], "mode": "polling"})
    assert polling.file_base_url == "https://api.telegram.org/file/bot"
    local = TelegramConfig.model_validate(EXAMPLE_CONFIG | {"api_base_url": "http://127.0.0.1:8081/bot"})
    assert local.file_base_url == "http://127.0.0.1:8081/file/bot"
    assert EXAMPLE_CONFIG["token"] not in repr(polling)
