"""Pure conversions: payload parsing, markup, error mapping, send bodies."""

from __future__ import annotations

from connectors.whatsapp import EXAMPLE_CONFIG, WhatsAppConfig
from connectors.whatsapp.compose import template_body
from connectors.whatsapp.convert import text_body
from connectors.whatsapp.inbound import parse_payload
from connectors.whatsapp.markup import media_kind, parse, refusal, render
from relay.model import Kind, Status
from relay.reasons import Reason
from relay.richtext import Style, from_markdown
from tests.connectors.whatsapp.fake_graph import PNID
from tests.connectors.whatsapp.helpers import CUSTOMER, load

OUT = "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABEYEjQyQUJDMDEyMzQ1Njc4OTAA"


def test_example_config_is_valid() -> None:
    cfg = WhatsAppConfig.model_validate(EXAMPLE_CONFIG)
    assert cfg.graph_url == "https://graph.facebook.com/v21.0"
    assert repr(cfg.access_token) == "***"


def test_render_rich_text_to_whatsapp_markup() -> None:
    text = from_markdown("Hi **Ana**, see *this* ~~old~~ `code` and [the docs](https://ex.com/d) or https://x.io")
    assert render(text) == "Hi *Ana*, see _this_ ~old~ ```code``` and the docs (https://ex.com/d) or https://x.io"
    assert render(from_markdown("** spaced **")) == " *spaced* "


def test_parse_whatsapp_markup() -> None:
    spans = parse("*big* _it_ ~no~ ```mono``` snake_case 2*3*4").spans
    styles = [(s.text, s.style) for s in spans if s.style is not Style.NONE]
    assert styles == [("big", Style.BOLD), ("it", Style.ITALIC), ("no", Style.STRIKE), ("mono", Style.PRE)]
    assert parse("snake_case 2*3*4").plain == "snake_case 2*3*4"


def test_every_inbound_type() -> None:
    incoming, receipts = parse_payload(load("types.json"), "wa", PNID)
    assert receipts == []
    by = {i.message.id[-8:-4]: i.message for i in incoming}
    assert (
        by["LOC1"].kind is Kind.TEXT
        and by["LOC1"].text.spans[-1].href == "https://maps.google.com/?q=-23.5505,-46.6333"
    )
    assert "Loja Centro" in by["LOC1"].text.plain
    assert "Bruno Costa" in by["CON1"].text.plain and "+55 11 91234-5678" in by["CON1"].text.plain
    assert by["BTN1"].text.plain == "Yes, confirm" and by["BTN1"].ref == OUT
    assert by["LST1"].text.plain == "Tomorrow 10:00\nMorning slot" and by["LST1"].ref == OUT
    assert by["QRB1"].text.plain == "Track my order" and by["QRB1"].ref == OUT
    assert by["REA1"].kind is Kind.REACTION and by["REA1"].ref == OUT and by["REA1"].reaction == "👍"
    assert by["RPL1"].kind is Kind.TEXT and by["RPL1"].ref == OUT
    assert by["UNS1"].kind is Kind.TEXT and by["UNS1"].reason == "unsupported"
    first = incoming[0].message
    assert first.event_id == first.id and first.id.startswith("wamid.")
    assert first.sender is not None and first.sender.id == CUSTOMER and first.sender.phone == CUSTOMER
    assert first.sender.name == "Ana Lima" and first.conversation.chat == CUSTOMER and first.origin == "wa"


def test_media_types() -> None:
    incoming, _ = parse_payload(load("media.json"), "wa", PNID)
    atts = [(i.message.kind, i.message.attachments[0]) for i in incoming]
    assert all(kind is Kind.MEDIA for kind, _ in atts)
    names = [a.name for _, a in atts]
    assert names == ["image.jpg", "invoice-0042.pdf", "voice.ogg", "audio.mp3", "video.mp4", "sticker.webp"]
    assert [a.ref.file_id for _, a in atts if a.ref] == [
        "1029384756",
        "5647382910",
        "2233445566",
        "2233445567",
        "3344556677",
        "4455667788",
    ]
    assert atts[2][1].mime == "audio/ogg"
    assert incoming[0].message.text.plain == "receipt" and incoming[1].message.ref is None


def test_multi_entry_and_foreign_numbers() -> None:
    incoming, _ = parse_payload(load("multi_entry.json"), "wa", PNID)
    assert [i.message.text.plain for i in incoming] == ["first", "second", "from B", "third"]
    assert parse_payload(load("multi_entry.json"), "wa", "5555555555")[0] == []


def test_statuses() -> None:
    _, receipts = parse_payload(load("statuses.json"), "wa", PNID)
    assert [(r.message.status, r.rank) for r in receipts] == [(Status.READ, 3), (Status.SENT, 1), (Status.DELIVERED, 2)]
    assert all(r.message.ref == OUT and r.message.kind is Kind.STATUS for r in receipts)
    assert receipts[0].message.event_id == f"{OUT}:read"
    _, failed = parse_payload(load("failed_131047.json"), "wa", PNID)
    assert failed[0].message.status is Status.FAILED and failed[0].message.reason == "template_required"


def test_error_mapping() -> None:
    pair = refusal(400, 131056, None, 1)
    assert pair.retryable and pair.scope == "chat" and pair.retry_after == 6.0
    assert refusal(400, 131056, None, 2).retry_after == 16.0
    assert refusal(400, 131056, 3.0, 2).retry_after == 3.0
    for code in (130429, 131057, 4, 80007):
        err = refusal(400, code, None)
        assert err.retryable and err.scope == "connector", code
    assert refusal(429, None, 7.0).retry_after == 7.0
    for code, reason in (
        (131026, Reason.RECIPIENT_UNREACHABLE),
        (131047, Reason.TEMPLATE_REQUIRED),
        (190, Reason.PLATFORM_AUTH_FAILED),
        (131030, Reason.INVALID_RECIPIENT),
        (368, Reason.PLATFORM_REJECTED),
        (132001, Reason.PLATFORM_REJECTED),
    ):
        err = refusal(400, code, None)
        assert not err.retryable and err.reason is reason and err.detail == str(code)
    assert not refusal(500, None, None).retryable
    assert (refusal(400, None, None).reason, refusal(400, None, None).detail) == (Reason.PLATFORM_REJECTED, "400")


def test_send_bodies() -> None:
    body = text_body(CUSTOMER, from_markdown("**hi**"), "wamid.X")
    assert body["text"] == {"body": "*hi*", "preview_url": False} and body["context"] == {"message_id": "wamid.X"}
    tpl = template_body(CUSTOMER, "reply_later", "pt_BR", "line one\n\nline    two")
    assert tpl["template"]["components"][0]["parameters"][0]["text"] == "line one line two"
    assert "components" not in template_body(CUSTOMER, "nudge", "en_US", None)["template"]
    assert [media_kind(m) for m in ("image/png", "video/mp4", "audio/ogg; codecs=opus", "application/zip")] == [
        "image",
        "video",
        "audio",
        "document",
    ]
