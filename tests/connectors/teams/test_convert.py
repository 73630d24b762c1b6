"""Pure conversions and config: activities -> Message, Message -> activity, Teams markdown, config rules."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from connectors.teams import EXAMPLE_CONFIG, TeamsConfig
from connectors.teams.config import service_url_allowed
from connectors.teams.convert import (
    chat_type,
    error_code,
    parse_media_id,
    render,
    service_url,
    strip_mentions,
    to_activity,
    to_message,
)
from relay.model import Address, Kind, Message
from relay.richtext import RichText, Span, Style, from_markdown
from tests.connectors.teams.fakes import payload

SERVICE = "https://smba.trafficmanager.net/emea/"


def test_personal_message() -> None:
    msg = to_message(payload("personal_message"), "teams")
    assert msg is not None
    assert (msg.kind, msg.id, msg.event_id, msg.origin) == (
        Kind.TEXT,
        "1736935200123",
        "a:1XyZPersonalChat:1736935200123",
        "teams",
    )
    assert msg.conversation == Address(
        "teams",
        "a:1XyZPersonalChat",
        None,
        '{"service_url":"https://smba.trafficmanager.net/emea/","chat_type":"personal"}',
    )
    assert (service_url(msg.conversation), chat_type(msg.conversation)) == (SERVICE, "personal")
    assert msg.sender is not None
    assert (msg.sender.id, msg.sender.name, msg.sender.username) == (
        "29:1AbCdEfPersonalUser",
        "Jane Doe",
        "6f1e0000-0000-4000-8000-0000000000aa",
    )
    assert msg.sender.phone is None and msg.sender.email is None
    assert msg.text.plain == "Hello, is my order shipped?"


def test_channel_message_keeps_thread_and_strips_bot_mention() -> None:
    msg = to_message(payload("channel_message"), "teams")
    assert msg is not None and msg.kind is Kind.TEXT and msg.attachments == ()
    assert msg.conversation.thread == "1736935000001"
    assert msg.conversation.chat == "19:c0ffee00supportchannel@thread.tacv2;messageid=1736935000001"
    assert chat_type(msg.conversation) == "channel"
    assert msg.text.plain == "can someone check invoice 42?"


def test_only_the_bots_mention_is_stripped() -> None:
    msg = to_message(payload("group_message"), "teams")
    assert msg is not None and msg.text.plain == "hi @Chris"
    assert strip_mentions("<at>Bot</at> x", [{"type": "mention", "text": "<at>Bot</at>"}], "28:b") == "@Bot x"


def test_edit_and_delete() -> None:
    edit = to_message(payload("message_update"), "teams")
    delete = to_message(payload("message_delete"), "teams")
    original = to_message(payload("personal_message"), "teams")
    assert edit is not None and delete is not None and original is not None
    assert (edit.kind, edit.ref, edit.text.plain) == (Kind.EDIT, "1736935200123", "Hello, is my order 42 shipped?")
    assert (delete.kind, delete.ref) == (Kind.DELETE, "1736935200123")
    assert len({edit.dedup_id, delete.dedup_id, original.dedup_id}) == 3
    assert len({edit.id, delete.id, original.id}) == 3


def test_other_activities_are_ignored() -> None:
    assert to_message(payload("conversation_update"), "teams") is None
    assert to_message(payload("personal_message", type="typing"), "teams") is None
    assert to_message(payload("personal_message", text="", attachments=[]), "teams") is None


def test_attachments() -> None:
    msg = to_message(payload("file_message"), "teams")
    assert msg is not None and msg.kind is Kind.MEDIA
    assert [(a.name, a.mime) for a in msg.attachments] == [
        ("invoice-0042.pdf", "application/pdf"),
        ("image", "image/*"),
    ]
    refs = [parse_media_id(a.ref.file_id) for a in msg.attachments if a.ref]
    assert refs == [("d", f"{SERVICE}download/invoice"), ("i", f"{SERVICE}v3/attachments/photo/views/original")]


def test_render_markdown() -> None:
    text = from_markdown("**Bold** and *it* ~~gone~~ `x*y` [site](https://example.com/a)")
    assert render(text) == "**Bold** and _it_ ~~gone~~ `x*y` [site](https://example.com/a)"
    assert render(RichText((Span("s", Style.NONE, "https://x.org/a b)"),))) == "[s](https://x.org/a%20b%29)"
    assert render(RichText.of("2*3 <b> _x_\nline")) == "2\\*3 &lt;b&gt; \\_x\\_\n\nline"
    assert render(RichText((Span("a\nb", Style.PRE),))) == "\n```\na\nb\n```\n"
    assert render(RichText((Span("x", Style.NONE, "javascript:alert(1)"),))) == "x"


def test_to_activity() -> None:
    msg = Message(kind=Kind.TEXT, id="1", origin="inbox", conversation=Address("teams", "a:1"), ref="99")
    body: dict[str, Any] = to_activity(msg, RichText.of("hi"), [("image/png", "p.png", b"\x00")])
    assert body == {
        "type": "message",
        "textFormat": "markdown",
        "text": "hi",
        "replyToId": "99",
        "attachments": [{"contentType": "image/png", "name": "p.png", "contentUrl": "data:image/png;base64,AA=="}],
    }


def test_error_code() -> None:
    assert error_code({"error": {"code": "ConversationBlockedByUser", "message": "m"}}) == "ConversationBlockedByUser"
    assert error_code({"error": "x"}) is None and error_code(None) is None


def test_service_url_policy() -> None:
    assert service_url_allowed("https://smba.trafficmanager.net/emea/", ())
    assert service_url_allowed("https://smba.infra.gcc.teams.microsoft.com/", ())
    assert not service_url_allowed("http://smba.trafficmanager.net/emea/", ())
    assert not service_url_allowed("https://smba.trafficmanager.net.evil.com/", ())
    assert not service_url_allowed("http://127.0.0.1:8080/", ())
    assert service_url_allowed("http://127.0.0.1:8080/", ("127.0.0.1",))
    assert not service_url_allowed("http://10.0.0.1/", ("10.0.0.1",))
    assert service_url_allowed("https://bots.example.org/", ("bots.example.org",))


def base(**changes: Any) -> dict[str, Any]:
    return dict(EXAMPLE_CONFIG) | changes


def test_config_rules() -> None:
    cfg = TeamsConfig.model_validate(base())
    assert cfg.authority_url == "https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111"
    assert cfg.client_credential() == "fake-teams-app-secret-not-real"
    for bad in (
        base(app_id=""),
        base(app_id="   "),
        base(app_secret=None),
        base(app_secret=""),
        base(authority="http://login.example.com/t"),
        base(openid_metadata_url="http://evil.example.com/x"),
        base(certificate={"private_key_pem": "k", "thumbprint": "A" * 40}),
    ):
        with pytest.raises(ValidationError):
            TeamsConfig.model_validate(bad)
    cert = TeamsConfig.model_validate(
        base(app_secret=None, certificate={"private_key_pem": "PEM", "thumbprint": "ab" * 20})
    )
    assert cert.client_credential() == {"private_key": "PEM", "thumbprint": "ab" * 20}
    assert "PEM" not in repr(cert)
