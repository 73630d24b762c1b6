"""Rich text <-> Telegram entities: UTF-16 offsets, nesting, unsafe links, parse/render round trips, split parts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.telegram.markup import parse, render
from relay.richtext import RichText, Span, Style, from_markdown, utf16_len
from tests.connectors.telegram.fake_entities import validate_entities

TRICKY = "<b>&amp; *bold* _it_ [link](x) \\ `code` 😀👍🏽 ä ‎ \u200d</b> > < & ] [ ~ | # + - = { } . !"


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
