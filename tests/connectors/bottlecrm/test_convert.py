"""Pure conversions and config of the BottleCRM connector."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from connectors.bottlecrm import EXAMPLE_CONFIG, MANIFEST
from connectors.bottlecrm.config import BottleCrmConfig
from connectors.bottlecrm.convert import (
    CommentEvent,
    InteractionEvent,
    interaction_body,
    marker_in,
    record_fields,
    skip_reason,
    system_note,
    with_marker,
)
from relay.degrade import degrade
from relay.model import Address, Attachment, Kind, Message, Party, Status
from relay.richtext import RichText

SEALED = "c1.k1.AbC_-123"


def cfg(**extra: Any) -> BottleCrmConfig:
    return BottleCrmConfig.model_validate({**EXAMPLE_CONFIG, **extra})


def msg(**extra: Any) -> Message:
    base: dict[str, Any] = {
        "kind": Kind.TEXT,
        "id": "m1",
        "origin": "webchat",
        "conversation": Address("webchat", "v1"),
        "text": RichText.of("hello"),
    }
    return Message(**{**base, **extra})


def test_marker_replaces_old_one_and_keeps_notes() -> None:
    notes = with_marker("VIP customer\nrelay-conversation: c1.k1.old", SEALED)
    assert notes == f"VIP customer\nrelay-conversation: {SEALED}"
    assert marker_in(notes) == SEALED
    assert with_marker(notes, "c2.k1.New_-1") == "VIP customer\nrelay-conversation: c2.k1.New_-1"
    assert marker_in(with_marker(notes, "c2.k1.New_-1")) == "c2.k1.New_-1"
    assert with_marker(None, SEALED) == f"relay-conversation: {SEALED}"
    assert marker_in(None) is None and marker_in("no marker here") is None


def test_config_rejects_unknown_keys_short_secrets_and_enquiry() -> None:
    with pytest.raises(ValidationError):
        cfg(surprise=1)
    with pytest.raises(ValidationError):
        cfg(api_token="short")
    with pytest.raises(ValidationError):
        cfg(default_kind="enquiry")
    assert "FAKE" not in repr(cfg())


def test_kind_for_mapping_then_name_then_default() -> None:
    c = cfg(interaction_kind={"support-chat": "whatsapp"})
    assert c.kind_for("support-chat") == "whatsapp"
    assert c.kind_for("whatsapp-eu") == "whatsapp"
    assert c.kind_for("twilio") == "sms"
    assert c.kind_for("webchat") == "sms"
    assert cfg(default_kind="email").kind_for("telegram") == "email"
    assert "call" not in c.reply_kinds and "whatsapp" in c.reply_kinds


def test_record_fields_for_contact_and_lead() -> None:
    m = msg(sender=Party(id="v1", name="Ana Maria Silva", phone="+351912345678"))
    body = record_fields(m, "contact", SEALED, None, "sms")
    assert body["first_name"] == "Ana" and body["last_name"] == "Maria Silva"
    assert body["phone"] == "+351912345678" and marker_in(body["description"]) == SEALED
    lead = record_fields(msg(), "lead", SEALED, "rabc", "whatsapp")
    assert lead["first_name"] == "webchat customer" and lead["last_name"] == "[rabc]"
    assert lead["assigned_to"] == [] and lead["contacts"] == [] and lead["teams"] == []


def test_interaction_body_is_inbound_with_links() -> None:
    att = Attachment(name="photo.jpg", mime="image/jpeg", url="https://relay.example/m/x")
    (part,) = degrade(msg(attachments=(att,)), MANIFEST.capabilities, lambda a: None)
    body = interaction_body(part, "contact", "c-1", "sms")
    assert body["direction"] == "inbound" and body["contact"] == "c-1" and body["kind"] == "sms"
    assert body["body"] == "hello\n[📎 photo.jpg](https://relay.example/m/x)"
    assert "hello" not in body["subject"]


def test_system_note_is_content_free() -> None:
    failed = msg(kind=Kind.STATUS, status=Status.FAILED, reason="recipient_unreachable", text=RichText.of("secret"))
    assert "secret" not in system_note(failed) and "recipient_unreachable" in system_note(failed)
    assert "opted out" in system_note(msg(kind=Kind.OPT_OUT))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"direction": "inbound", "kind": "sms", "body": "x"}, "not_outbound"),
        ({"direction": "outbound", "kind": "call", "body": "x"}, "not_a_text_kind"),
        ({"direction": "outbound", "kind": "sms", "body": "x", "logged_by": "me"}, "relay_own"),
        ({"direction": "outbound", "kind": "sms", "body": "  "}, "empty"),
        ({"direction": "outbound", "kind": "sms", "body": "hi", "logged_by": "agent"}, None),
    ],
)
def test_skip_reason_for_interactions(data: dict[str, Any], reason: str | None) -> None:
    assert skip_reason(InteractionEvent(id="i", **data), cfg(), "me") == reason


def test_skip_reason_for_comments() -> None:
    c = cfg(reply_source="comment")
    assert skip_reason(CommentEvent(id="c", ticket_id="t", comment="hi", commented_by="agent"), c, "me") is None
    assert skip_reason(CommentEvent(id="c", ticket_id="t", comment="hi", commented_by="me"), c, "me") == "relay_own"
    portal = CommentEvent(id="c", ticket_id="t", comment="hi", commented_by_contact="x")
    assert skip_reason(portal, c, "me") == "not_an_agent_comment"
