"""Canonical rich text, splitting, and capability-driven degradation."""

from __future__ import annotations

from relay.connector import Capabilities
from relay.degrade import degrade
from relay.model import Address, Attachment, Kind, MediaRef, Message
from relay.richtext import RichText, Span, Style, from_markdown, to_html, to_markdown, utf16_len


def test_markdown_round_trip_and_styles() -> None:
    text = from_markdown("Hi **bold *both*** and `code` [site](https://x.example/a) ~~old~~")
    styles = {s.text: s.style for s in text.spans}
    assert styles["bold "] == Style.BOLD
    assert styles["both"] == Style.BOLD | Style.ITALIC
    assert styles["code"] == Style.CODE
    assert styles["old"] == Style.STRIKE
    assert any(s.href == "https://x.example/a" for s in text.spans)
    assert from_markdown(to_markdown(text)).plain == text.plain


def test_html_escapes_everything() -> None:
    assert to_html(RichText((Span("<b>&", Style.BOLD),))) == "<b>&lt;b&gt;&amp;</b>"
    assert to_html(RichText((Span("x", href='https://a/"q'),))) == '<a href="https://a/&quot;q">x</a>'


def test_repr_hides_content() -> None:
    text = RichText.of("secret words")
    assert "secret" not in repr(text) and "secret" not in str(text)
    msg = Message(kind=Kind.TEXT, id="1", origin="a", conversation=Address("a", "555123"), text=text)
    assert "secret" not in repr(msg) and "555123" not in repr(msg)


def test_split_respects_utf16_and_keeps_styles() -> None:
    text = RichText((Span("😀" * 3000, Style.BOLD), Span(" tail " * 100)))
    parts = text.split(4096, utf16_len)
    assert all(utf16_len(p.plain) <= 4096 for p in parts)
    assert "".join(p.plain for p in parts) == text.plain
    assert parts[0].spans[0].style == Style.BOLD


def test_split_prefers_word_breaks() -> None:
    text = RichText.of("word " * 50)
    parts = text.split(23)
    assert all(p.plain.endswith(" ") for p in parts[:-1])


def _msg(**kw: object) -> Message:
    base: dict[str, object] = {"kind": Kind.TEXT, "id": "1", "origin": "crm", "conversation": Address("tg", "1")}
    base.update(kw)
    return Message(**base)  # type: ignore[arg-type]


def test_degrade_files_edits_reactions_and_length() -> None:
    caps = Capabilities(max_text=10)
    att = Attachment(name="a.pdf", ref=MediaRef("wa", "f1"), size=5)
    parts = degrade(
        _msg(kind=Kind.MEDIA, attachments=(att,), text=RichText.of("see file")), caps, lambda a: "https://relay/media/t"
    )
    assert parts[0].kind is Kind.TEXT and not parts[0].attachments
    assert "a.pdf" in "".join(p.text.plain for p in parts)
    edited = degrade(_msg(kind=Kind.EDIT, text=RichText.of("new"), ref="9"), Capabilities(), lambda a: None)
    assert edited[0].kind is Kind.TEXT and edited[0].text.plain == "(edited) new"
    reacted = degrade(_msg(kind=Kind.REACTION, reaction="👍", ref="9"), Capabilities(), lambda a: None)
    assert reacted[0].text.plain == "(reacted 👍)"
    assert degrade(_msg(kind=Kind.STATUS), Capabilities(), lambda a: None) == []
    long = degrade(_msg(text=RichText.of("abcdefghij" * 3)), caps, lambda a: None)
    assert [p.text.plain for p in long] == ["abcdefghij"] * 3
