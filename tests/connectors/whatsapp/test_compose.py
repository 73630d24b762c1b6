"""Templates, choices, read/typing and recipients: the bodies built, and the Graph fake's documented refusals
coming back through the real connector."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.whatsapp import compose
from relay.errors import DeliveryError
from relay.interact import Choice, Choices, ChoiceStyle, ParamKind, Template, TemplateButton, TemplateParam
from relay.model import Address, Kind, Message
from relay.reasons import Reason
from relay.richtext import RichText
from tests.connectors.whatsapp.helpers import CUSTOMER, signature, text_payload

BSUID = "US.13491208655302741918"


def _out(kind: Kind = Kind.TEXT, to: str = CUSTOMER, text: str = "Pick", **fields: Any) -> Message:
    return Message(
        kind=kind, id="crm-1", origin="crm", conversation=Address("wa", to), text=RichText.of(text), **fields
    )


def test_recipient_by_phone_or_user_id_and_nothing_else() -> None:
    assert compose.recipient(CUSTOMER) == {"to": CUSTOMER}
    assert compose.recipient(BSUID) == {"recipient": BSUID}
    assert compose.recipient("US.ENT.11815799212886844830") == {"recipient": "US.ENT.11815799212886844830"}
    for bad in ("+5511", "us.123", "US.12 3", ""):
        with pytest.raises(DeliveryError) as refused:
            compose.recipient(bad)
        assert refused.value.reason is Reason.INVALID_RECIPIENT


def test_template_parameters_of_every_kind() -> None:
    t = Template(
        "order_update",
        "en_US",
        header=(TemplateParam(ParamKind.DOCUMENT, "https://cdn.example.com/i.pdf"),),
        body=(
            TemplateParam(ParamKind.DATE_TIME, "Jan 5, 2027"),
            TemplateParam(ParamKind.CURRENCY, "USD 0.5"),
        ),
        buttons=(TemplateButton(0, "copy_code", (TemplateParam(ParamKind.TEXT, "SAVE10"),)),),
    )
    header, body, button = compose.template(t)["template"]["components"]
    assert header["parameters"] == [{"type": "document", "document": {"link": "https://cdn.example.com/i.pdf"}}]
    assert body["parameters"][0] == {"type": "date_time", "date_time": {"fallback_value": "Jan 5, 2027"}}
    assert body["parameters"][1]["currency"] == {"fallback_value": "USD 0.5", "code": "USD", "amount_1000": 500}
    assert button["parameters"] == [{"type": "coupon_code", "coupon_code": "SAVE10"}]
    with pytest.raises(DeliveryError):
        compose.template(Template("x", "en", body=(TemplateParam(ParamKind.CURRENCY, "twelve euros"),)))


def test_lists_in_sections_links_and_what_falls_back_to_text() -> None:
    rows = tuple(
        Choice(f"r{i}", f"A rather long row title {i}", "d" * 80, section="S" if i else None) for i in range(3)
    )
    listed = compose.interactive("Body", Choices(ChoiceStyle.LIST, rows))
    assert listed is not None
    sections = listed["action"]["sections"]
    assert [s["title"] for s in sections] == ["More", "S"] and listed["action"]["button"] == "Options"
    assert all(len(r["title"]) <= 24 and len(r["description"]) <= 72 for s in sections for r in s["rows"])
    two_links = Choices(ChoiceStyle.URL, (Choice("a", "A", url="https://a.example"), Choice("b", "B", url="https://b")))
    assert compose.interactive("Body", two_links) is None
    assert compose.interactive("x" * 1025, Choices(ChoiceStyle.BUTTONS, rows[:2])) is None
    assert compose.fallback("Body", two_links) == "Body\n\n1. A: https://a.example\n2. B: https://b"


def test_picks_of_the_three_inbound_shapes_and_malformed_ones() -> None:
    assert compose.pick("interactive", {"type": "button_reply", "button_reply": {"id": "y", "title": "Yes"}}) == Choice(
        "y", "Yes"
    )
    row = compose.pick(
        "interactive", {"type": "list_reply", "list_reply": {"id": "m", "title": "M", "description": "d"}}
    )
    assert row == Choice("m", "M", "d")
    assert compose.pick("button", {"payload": "p", "text": "Go"}) == Choice("p", "Go")
    assert compose.pick("interactive", {"type": "nfm_reply", "nfm_reply": {"name": "flow"}}) is None
    assert compose.pick("interactive", {"type": "button_reply", "button_reply": {"id": 3}}) is None
    assert compose.pick("button", {}) is None


async def test_the_fakes_refusals_come_back_with_their_codes(make_env: Any) -> None:
    env = await make_env()
    raw = text_payload("wamid.IN1", "hi")
    assert (await env.client.post("/hooks/wa", data=raw, headers=signature(raw))).status == 200
    four = Choices(ChoiceStyle.BUTTONS, tuple(Choice(str(i), f"Option {i}") for i in range(4)))
    login = Template("login_code", "en_US", body=(TemplateParam(ParamKind.TEXT, "123456"),))
    image_as_video = Template(
        "order_update",
        "en_US",
        header=(TemplateParam(ParamKind.VIDEO, "https://cdn.example.com/v.mp4"),),
        body=(TemplateParam(ParamKind.TEXT, "a"), TemplateParam(ParamKind.TEXT, "b")),
    )
    bad_button = Template(
        "reply_waiting",
        "pt_BR",
        body=(TemplateParam(ParamKind.TEXT, "a"),),
        buttons=(TemplateButton(3, "url", (TemplateParam(ParamKind.TEXT, "x"),)),),
    )
    for message, code in (
        (_out(choices=four), 100),
        (_out(Kind.TEMPLATE, BSUID, template=login), 131062),
        (_out(Kind.TEMPLATE, template=image_as_video), 132012),
        (_out(Kind.TEMPLATE, template=Template("spring_sale", "en_US")), 132015),
        (_out(Kind.TEMPLATE, template=bad_button), 131009),
    ):
        with pytest.raises(DeliveryError) as refused:
            await env.wa.send(message)
        assert refused.value.detail == str(code), code
    env.graph.closed.add(CUSTOMER)
    with pytest.raises(DeliveryError) as refused:
        await env.wa.send(_out(choices=Choices(ChoiceStyle.BUTTONS, four.items[:2])))
    assert refused.value.reason is Reason.TEMPLATE_REQUIRED and refused.value.detail == "131047"
    assert env.graph.sent == []


async def test_typing_needs_a_customer_message_and_read_names_one(make_env: Any) -> None:
    env = await make_env()
    with pytest.raises(DeliveryError) as refused:
        await env.wa.send(_out(Kind.TYPING, text=""))
    assert refused.value.reason is Reason.UNKNOWN_MESSAGE
    with pytest.raises(DeliveryError) as refused:
        await env.wa.send(_out(Kind.READ, text="", ref="not-a-wamid"))
    assert refused.value.detail == "100"
    assert await env.wa.send(_out(Kind.READ, text="", ref="wamid.IN9")) == "read:wamid.IN9"
    assert env.graph.signals == [{"message_id": "wamid.IN9", "typing": False}]
