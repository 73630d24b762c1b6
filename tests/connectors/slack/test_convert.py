"""Pure conversions: mrkdwn both ways, events to messages, relay filtering, config validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from connectors.slack import EXAMPLE_CONFIG, MANIFEST, SlackConfig
from connectors.slack.convert import is_relayed, party, to_message
from connectors.slack.mrkdwn import parse_mrkdwn, reaction_text, to_mrkdwn
from relay.model import Address, Kind
from relay.richtext import RichText, Span, Style, from_markdown
from tests.connectors.slack.fake_slack import payload

NONE: frozenset[str] = frozenset()


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("a & b < c > d", "a &amp; b &lt; c &gt; d"),
        ("**bold** *it* ~~gone~~ `x<y`", "*bold* _it_ ~gone~ `x&lt;y`"),
        ("[a|b>c](https://x.example/p?q=1&r=|>)", "<https://x.example/p?q=1&amp;r=%7C%3E|a¦b&gt;c>"),
        ("see https://x.example", "see https://x.example"),
        ("```\nif a < b:\n```", "```if a &lt; b:\n```"),
    ],
)
def test_markdown_renders_to_safe_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(from_markdown(markdown)) == mrkdwn


def test_styles_keep_whitespace_outside_markers_and_unsafe_links_are_text() -> None:
    text = RichText((Span("bold ", Style.BOLD), Span("x"), Span("click", Style.NONE, "javascript:alert(1)")))
    assert to_mrkdwn(text) == "*bold* xclick (javascript:alert(1))"
    assert to_mrkdwn(RichText((Span("https://a.example/x", href="https://a.example/x"),))) == "<https://a.example/x>"


def test_mrkdwn_parses_to_rich_text() -> None:
    text = parse_mrkdwn(
        "Hi <@U123|dana>, see <https://x.example/a?b=1&amp;c=2|the *docs*> &lt;now&gt; *bold* "
        "_it_ ~s~ `c` <#C1|general> <!here>"
    )
    assert text.plain == "Hi @dana, see the *docs* <now> bold it s c #general @here"
    link = next(s for s in text.spans if s.href)
    assert link.href == "https://x.example/a?b=1&c=2"
    styles = {s.text: s.style for s in text.spans}
    assert styles["bold"] == Style.BOLD and styles["it"] == Style.ITALIC and styles["c"] == Style.CODE


def test_message_events_become_messages() -> None:
    msg = to_message(payload("message_im"), "slack", None)
    assert msg is not None and msg.kind is Kind.TEXT
    assert msg.id == "D024BE91L:1736935200.000200" and msg.event_id == "Ev08MFMKH6A"
    assert msg.conversation == Address("slack", "D024BE91L")
    reply = to_message(payload("thread_reply"), "slack", None)
    assert reply is not None and reply.conversation == Address("slack", "C0SHARED01", "1736935300.000100")
    edit = to_message(payload("message_changed"), "slack", None)
    assert edit is not None and edit.kind is Kind.EDIT and edit.ref == "D024BE91L:1736935200.000200"
    delete = to_message(payload("message_deleted"), "slack", None)
    assert delete is not None and delete.kind is Kind.DELETE and delete.ref == "D024BE91L:1736935200.000200"
    reaction = to_message(payload("reaction_added"), "slack", None)
    assert reaction is not None and reaction.kind is Kind.REACTION and reaction.reaction == "👍"
    assert reaction.ref == "D024BE91L:1736935200.000200"
    media = to_message(payload("file_share"), "slack", None)
    assert media is not None and media.kind is Kind.MEDIA
    [att] = media.attachments
    assert att.ref is not None and att.ref.file_id == "F07ABCDEF12" and att.size == 48213
    assert to_message(payload("message_im", text=""), "slack", None) is None


def test_relay_filter() -> None:
    assert is_relayed(payload("message_im")["event"], "U0RELAYBOT", NONE)
    assert not is_relayed(payload("own_bot_echo")["event"], "U0RELAYBOT", NONE)
    assert not is_relayed(payload("other_bot")["event"], "U0RELAYBOT", NONE)
    assert not is_relayed(payload("message_im", user="U0RELAYBOT")["event"], "U0RELAYBOT", NONE)
    assert not is_relayed(payload("message_im", subtype="channel_join")["event"], None, NONE)
    assert not is_relayed({"type": "app_mention", "channel": "C1"}, None, NONE)
    assert is_relayed(payload("message_channel")["event"], None, NONE)
    assert not is_relayed(payload("message_channel")["event"], None, frozenset({"C0OTHER001"}))
    assert is_relayed(payload("message_im")["event"], None, frozenset({"C0OTHER001"}))
    echo_edit = payload("message_changed")
    echo_edit["event"]["message"]["bot_id"] = "B0RELAYBOT"
    assert not is_relayed(echo_edit["event"], None, NONE)


def test_party_and_reactions() -> None:
    info = {"name": "dana", "profile": {"display_name": "", "real_name": "Dana S", "email": "d@x.example"}}
    assert party("U1", info, False).email is None
    assert party("U1", info, True).email == "d@x.example" and party("U1", info, True).name == "Dana S"
    assert party("U1", None, True).name is None
    assert reaction_text("+1::skin-tone-3") == "👍" and reaction_text("party_parrot") == ":party_parrot:"


def test_config_validation() -> None:
    assert SlackConfig.model_validate(EXAMPLE_CONFIG).mode == "events"
    bad = [
        {**EXAMPLE_CONFIG, "bot_token": "xoxp-user-token"},
        {**EXAMPLE_CONFIG, "signing_secret": None},
        {**EXAMPLE_CONFIG, "mode": "socket"},
        {**EXAMPLE_CONFIG, "mode": "socket", "app_token": "xoxb-wrong"},
        {**EXAMPLE_CONFIG, "channels": ["#general"]},
        {**EXAMPLE_CONFIG, "ack_deadline": 5},
        {**EXAMPLE_CONFIG, "surprise": 1},
    ]
    for raw in bad:
        with pytest.raises(ValidationError):
            SlackConfig.model_validate(raw)
    socket = SlackConfig.model_validate(
        {
            **EXAMPLE_CONFIG,
            "mode": "socket",
            "app_token": "xapp-1-x",
            "signing_secret": None,
            "api_base_url": "http://127.0.0.1:1/api",
        }
    )
    assert socket.api_base_url.endswith("/api/") and "xapp" not in repr(socket)
    caps = MANIFEST.capabilities
    assert caps.threads and caps.files and caps.ack_deadline < 3 and caps.limits[0].scope == "chat"
