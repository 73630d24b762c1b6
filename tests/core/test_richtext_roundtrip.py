"""Markdown the relay writes reads back as the same characters, through every connector's renderer."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.slack.mrkdwn import to_mrkdwn
from connectors.telegram.markup import render as telegram_render
from connectors.whatsapp.markup import render as whatsapp_render
from relay.richtext import RichText, Span, Style, from_markdown, to_html, to_markdown

SNIPPETS = ["**", "~~", "```", "](https://x.example/a)", "é", "\ue041"]
MARKUP = st.sampled_from([*"\\`*_~[]()<>#!-.:/ \nabc", *SNIPPETS])
TEXT = st.lists(st.one_of(MARKUP, st.text(max_size=4)), max_size=20).map("".join)


def _webchat(text: RichText) -> str:
    return to_html(text)


def _telegram(text: RichText) -> str:
    plain, entities = telegram_render(text)
    return f"{plain}|{[e.as_dict() for e in entities]}"


RENDERERS: dict[str, Callable[[RichText], str]] = {
    "webchat": _webchat,
    "telegram": _telegram,
    "whatsapp": whatsapp_render,
    "slack": to_mrkdwn,
}


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_plain_text_round_trips_through_markdown(text: str) -> None:
    back = from_markdown(to_markdown(RichText.of(text)))
    assert back.plain == text
    assert all(s.style is Style.NONE and s.href is None for s in back.spans)


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_every_connector_shows_the_quoted_markdown_as_the_text(text: str) -> None:
    quoted = from_markdown(to_markdown(RichText.of(text)))
    for name, render in RENDERERS.items():
        assert render(quoted) == render(RichText.of(text)), name


STYLES = st.sampled_from([Style.NONE, Style.BOLD, Style.ITALIC, Style.STRIKE, Style.BOLD | Style.ITALIC])
WORD = st.text(alphabet="ab \\*_~`[]", min_size=1, max_size=6).filter(lambda t: t.strip() == t and t.strip())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(WORD, STYLES), max_size=6))
def test_styled_text_keeps_its_characters(parts: list[tuple[str, Style]]) -> None:
    text = RichText(tuple(span for t, s in parts for span in (Span(t, s), Span(" "))))
    assert from_markdown(to_markdown(text)).plain == text.plain


def test_the_issue_examples_render_literally() -> None:
    customer = "**hi** [click](https://x.example/) <i>hi</i>"
    quoted = from_markdown(to_markdown(RichText.of(customer)))
    assert quoted.plain == customer
    assert html.unescape(re.sub(r"<[^>]+>", "", to_html(quoted))) == customer
    assert "<a" not in to_html(quoted)
    assert telegram_render(quoted) == (customer, [])


def test_crm_escapes_of_any_punctuation_are_literal_and_code_keeps_backslashes() -> None:
    assert from_markdown(r"\# \< \*x\* `a\*b`").plain == "# < *x* a\\*b"
    assert from_markdown("```\nx \\* 1\n```").spans == (Span("x \\* 1\n", Style.PRE),)
