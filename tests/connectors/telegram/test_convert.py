"""Pure conversions: every inbound update type, ids, and rich text <-> entities."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from telegram import Update

from connectors.telegram import EXAMPLE_CONFIG, TelegramConfig
from connectors.telegram.convert import Accept, parse_platform_id, platform_id, to_message
from connectors.telegram.markup import parse, render
from relay.model import Kind, Message
from relay.richtext import RichText, Span, Style, from_markdown, utf16_len
from tests.connectors.telegram.fake_api import validate_entities
from tests.connectors.telegram.helpers import payload

TRICKY = "<b>&amp; *bold* _it_ [link](x) \\ `code` 😀👍🏽 ä ‎ \u200d</b> > < & ] [ ~ | # + - = { } . !"


PRIVATE_ONLY = Accept()


def convert(name: str, accept: Accept = PRIVATE_ONLY, **changes: Any) -> Message | None:
    return to_message(Update.de_json(payload(name, **changes), None), "tg", accept)


def test_text_carries_ids_sender_and_styles() -> None:
    m = convert("text")
    assert m is not None and m.kind is Kind.TEXT
    assert m.id == "123456789:42" and m.event_id == "583920113" and m.origin == "tg"
    assert m.conversation.chat == "123456789" and m.conversation.chat_type == "private"
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
    assert group.conversation.chat_type == "supergroup"
    assert convert("text", accept=Accept(private=False, groups=True)) is None
    assert convert("member_joined") is None


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


def test_render_uses_utf16_offsets_and_nests_entities() -> None:
    text = RichText(
        (
            Span("😀 "),
            Span("bold", Style.BOLD | Style.ITALIC),
            Span(" "),
            Span("link", Style.NONE, "https://x.y"),
            Span(" "),
            Span("x<y", Style.CODE),
            Span("\n"),
            Span("pre 👍", Style.PRE | Style.BOLD),
        )
    )
    plain, entities = render(text)
    assert plain == text.plain
    kinds = [(e.type, e.offset, e.length) for e in entities]
    assert ("bold", 3, 4) in kinds and ("italic", 3, 4) in kinds
    assert ("text_link", 8, 4) in kinds and ("code", 13, 3) in kinds and ("pre", 17, 6) in kinds
    assert validate_entities(plain, [e.as_dict() for e in entities]) is None


def test_render_drops_unsafe_links_and_keeps_tricky_characters_verbatim() -> None:
    text = from_markdown(TRICKY) + RichText((Span("js", Style.BOLD, "javascript:alert(1)"),))
    plain, entities = render(text)
    assert "<b>&amp;" in plain and "\\" in plain
    assert all(e.type != "text_link" for e in entities)
    assert validate_entities(plain, [e.as_dict() for e in entities]) is None


def test_parse_inverts_render() -> None:
    text = RichText(
        (
            Span("a😀"),
            Span("b", Style.BOLD),
            Span("👍🏽c", Style.ITALIC | Style.STRIKE),
            Span("u", Style.NONE, "https://e.x"),
        )
    )
    plain, entities = render(text)
    assert parse(plain, [(e.type, e.offset, e.length, e.url) for e in entities]) == text


_styles = st.sampled_from([Style.NONE, Style.BOLD, Style.ITALIC, Style.BOLD | Style.STRIKE, Style.CODE, Style.PRE])
_chars = st.text(alphabet=st.sampled_from([*"ab <>&*_[]\\`\n😀é", "👍", "🏽", "\U0001f600"]), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_chars, _styles, st.booleans()), min_size=1, max_size=12), st.integers(5, 60))
def test_any_split_part_renders_to_valid_entities(parts: list[tuple[str, Style, bool]], limit: int) -> None:
    text = RichText(tuple(Span(t, s, "https://e.x/?a=1&b=2" if link else None) for t, s, link in parts))
    pieces = text.split(limit, utf16_len)
    assert "".join(p.plain for p in pieces) == text.plain
    for piece in pieces:
        plain, entities = render(piece)
        assert utf16_len(plain) <= limit
        assert validate_entities(plain, [e.as_dict() for e in entities]) is None
