"""Templates, choices, typing and read signals fit to what a target supports, once, in `degrade`."""

from __future__ import annotations

import pytest

from relay.connector import Capabilities
from relay.degrade import degrade
from relay.errors import DeliveryError
from relay.interact import Choice, Choices, ChoiceStyle, ParamKind, Template, TemplateParam
from relay.model import Address, Kind, Message
from relay.reasons import Reason
from relay.richtext import RichText

PLAIN = Capabilities()
RICH = Capabilities(templates=True, max_buttons=3, max_list=10, url_buttons=True, typing=True, read_marks=True)
BUTTONS = Choices(ChoiceStyle.BUTTONS, (Choice("yes", "Yes"), Choice("no", "No", description="not now")))


def _m(kind: Kind = Kind.TEXT, text: str = "Pick one", **fields: object) -> Message:
    return Message(kind=kind, id="m1", origin="crm", conversation=Address("wa", "42"), text=RichText.of(text)).with_(
        **fields
    )


def test_buttons_stay_buttons_where_supported_and_become_a_numbered_list_elsewhere() -> None:
    assert degrade(_m(choices=BUTTONS), RICH, lambda a: None)[0].choices == BUTTONS
    [part] = degrade(_m(choices=BUTTONS), PLAIN, lambda a: None)
    assert part.choices is None
    assert part.text.plain == "Pick one\n\n1. Yes\n2. No — not now"


def test_more_buttons_than_the_target_allows_become_text() -> None:
    many = Choices(ChoiceStyle.BUTTONS, tuple(Choice(str(i), f"Option {i}") for i in range(4)))
    [part] = degrade(_m(choices=many), RICH, lambda a: None)
    assert part.choices is None and "4. Option 3" in part.text.plain


def test_url_actions_spell_out_their_link_without_support() -> None:
    links = Choices(ChoiceStyle.URL, (Choice("site", "Open the order", url="https://shop.example/o/1"),))
    assert degrade(_m(choices=links), RICH, lambda a: None)[0].choices == links
    [part] = degrade(_m(choices=links), PLAIN, lambda a: None)
    assert part.text.plain.endswith("1. Open the order: https://shop.example/o/1")


def test_a_customer_pick_without_text_carries_its_title() -> None:
    [part] = degrade(_m(text="", choice=Choice("yes", "Yes")), PLAIN, lambda a: None)
    assert part.text.plain == "Yes" and part.choice == Choice("yes", "Yes")


def test_typing_and_read_are_dropped_where_the_target_cannot_show_them() -> None:
    for kind in (Kind.TYPING, Kind.READ):
        assert degrade(_m(kind, text=""), PLAIN, lambda a: None) == []
        assert [p.kind for p in degrade(_m(kind, text=""), RICH, lambda a: None)] == [kind]


def test_a_template_with_fallback_text_becomes_text_where_templates_are_unknown() -> None:
    tpl = Template("order_update", "en", body=(TemplateParam(ParamKind.TEXT, "A-17"),))
    assert degrade(_m(Kind.TEMPLATE, template=tpl), RICH, lambda a: None)[0].template == tpl
    [part] = degrade(_m(Kind.TEMPLATE, template=tpl), PLAIN, lambda a: None)
    assert part.kind is Kind.TEXT and part.template is None and part.text.plain == "Pick one"


def test_a_template_without_fallback_text_is_refused_where_templates_are_unknown() -> None:
    with pytest.raises(DeliveryError) as refused:
        degrade(_m(Kind.TEMPLATE, "", template=Template("order_update", "en")), PLAIN, lambda a: None)
    assert refused.value.reason is Reason.UNSUPPORTED
