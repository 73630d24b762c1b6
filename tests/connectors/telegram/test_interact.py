"""Inline keyboards out and taps back, reactions both ways, typing: through the connector and the fake Bot API."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from telegram import Update

from connectors.telegram.convert import Accept
from connectors.telegram.inbound import update_message
from connectors.telegram.interact import REACTIONS, choice_message, reaction_message
from relay.app import Relay
from relay.errors import DeliveryError
from relay.interact import Choice, Choices, ChoiceStyle
from relay.model import Address, Attachment, Kind, Message
from relay.reasons import Reason
from relay.richtext import RichText
from tests.conftest import RelayFactory
from tests.connectors.telegram.fake_api import SECRET, FakeTelegram
from tests.connectors.telegram.helpers import SECRET_HEADER, payload, to_inbox
from tests.connectors.telegram.test_inbound import eventually
from tests.support.spy import handed_to

Fake = tuple[FakeTelegram, str]
HEADERS = {SECRET_HEADER: SECRET}
ANA = Address("tg", "123456789", handle='{"chat_type":"private"}')
SLOTS = Choices(ChoiceStyle.BUTTONS, (Choice("slot-tomorrow", "Tomorrow"), Choice("slot-friday", "Friday")))


def crm_says(kind: Kind = Kind.TEXT, **fields: Any) -> Message:
    return Message(kind=kind, id=fields.pop("id", "crm-ask-1"), origin="inbox", conversation=ANA, **fields)


def to_crm(relay: Relay) -> list[Message]:
    return handed_to(relay, "inbox")


async def started(start_relay: RelayFactory, api: str, **tg: Any) -> tuple[TestClient[Any, Any], Relay]:
    client, relay = await start_relay(to_inbox(api, tg or None))
    resp = await client.post("/hooks/tg/", json=payload("text"), headers=HEADERS)
    assert resp.status == 200, await resp.text()
    return client, relay


async def test_buttons_go_out_and_the_tap_comes_back_as_a_reply_with_the_choice(
    start_relay: RelayFactory, fake_tg: Fake
) -> None:
    fake, api = fake_tg
    client, relay = await started(start_relay, api)
    result = await relay.engine.deliver(crm_says(text=RichText.of("When shall we deliver?"), choices=SLOTS))
    assert result.platform_id == "123456789:1000", result
    (sent,) = fake.sent
    assert sent["text"] == "When shall we deliver?"
    assert sent["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Tomorrow", "callback_data": "slot-tomorrow"}, {"text": "Friday", "callback_data": "slot-friday"}]
        ]
    }
    seen = to_crm(relay)
    tap = fake.tap(sent, "slot-friday")
    resp = await client.post("/hooks/tg/", json=tap, headers=HEADERS)
    assert resp.status == 200 and (await resp.json())["status"] == "delivered"
    (got,) = seen
    assert got.choice == Choice("slot-friday", "Friday") and got.ref == "crm-ask-1"
    assert got.text.plain == "Friday" and got.sender is not None and got.sender.id == "123456789"
    await eventually(lambda: len(fake.answered) == 1)
    assert str(fake.answered[0]["callback_query_id"]) == tap["callback_query"]["id"] and fake.errors == []


async def test_a_redelivered_tap_is_answered_once_and_delivered_once(start_relay: RelayFactory, fake_tg: Fake) -> None:
    fake, api = fake_tg
    client, relay = await started(start_relay, api)
    await relay.engine.deliver(crm_says(text=RichText.of("When?"), choices=SLOTS))
    seen = to_crm(relay)
    tap = fake.tap(fake.sent[0], "slot-tomorrow")
    for _ in range(2):
        assert (await client.post("/hooks/tg/", json=tap, headers=HEADERS)).status == 200
    await eventually(lambda: len(fake.requests("*/answerCallbackQuery")) == 2)
    assert len(seen) == 1 and len(fake.answered) == 1
    assert fake.errors == ["Bad Request: query is too old and response timeout expired or query ID is invalid"]


async def test_list_is_a_column_and_links_are_url_buttons(start_relay: RelayFactory, fake_tg: Fake) -> None:
    fake, api = fake_tg
    _, relay = await started(start_relay, api)
    rows = tuple(Choice(f"size-{n}", n) for n in ("S", "M", "L", "XL"))
    await relay.engine.deliver(crm_says(choices=Choices(ChoiceStyle.LIST, rows, button="Pick a size")))
    links = Choices(ChoiceStyle.URL, (Choice("track", "Track parcel", url="https://t.example/p/1"),))
    await relay.engine.deliver(crm_says(id="crm-ask-2", text=RichText.of("Shipped"), choices=links))
    listed, linked = fake.sent
    assert listed["text"] == "Pick a size"
    assert [[b["callback_data"] for b in row] for row in listed["reply_markup"]["inline_keyboard"]] == [
        ["size-S"],
        ["size-M"],
        ["size-L"],
        ["size-XL"],
    ]
    assert linked["reply_markup"] == {"inline_keyboard": [[{"text": "Track parcel", "url": "https://t.example/p/1"}]]}


async def test_a_choice_id_over_64_bytes_is_refused_before_telegram(start_relay: RelayFactory, fake_tg: Fake) -> None:
    fake, api = fake_tg
    _, relay = await started(start_relay, api)
    long = Choices(ChoiceStyle.BUTTONS, (Choice("x" * 65, "Too long"),))
    with pytest.raises(DeliveryError) as refused:
        await relay.connectors["tg"].send(crm_says(text=RichText.of("?"), choices=long))
    assert refused.value.reason is Reason.UNSUPPORTED and refused.value.detail == "choice_id_over_64_bytes"
    assert fake.requests("*/sendMessage") == []


async def test_typing_reaches_the_chat(start_relay: RelayFactory, fake_tg: Fake) -> None:
    fake, api = fake_tg
    _, relay = await started(start_relay, api)
    result = await relay.engine.deliver(crm_says(Kind.TYPING))
    assert result.outcome.value == "delivered", result
    assert fake.actions == [{"chat_id": 123456789, "action": "typing"}] and fake.sent == []


async def test_agent_reactions_are_set_removed_and_unknown_emoji_become_text_once(
    start_relay: RelayFactory, fake_tg: Fake
) -> None:
    fake, api = fake_tg
    _, relay = await started(start_relay, api)
    tg = relay.connectors["tg"]
    assert "🧀" not in REACTIONS
    assert await tg.send(crm_says(Kind.REACTION, ref="123456789:42", reaction="👍")) == "123456789:42"
    assert await tg.send(crm_says(Kind.REACTION, ref="123456789:42", reaction="❤️")) == "123456789:42"
    await tg.send(crm_says(Kind.REACTION, ref="123456789:42", reaction=""))
    assert [r["reaction"] for r in fake.reactions] == [
        [{"type": "emoji", "emoji": "👍"}],
        [{"type": "emoji", "emoji": "❤"}],
        [],
    ]
    await tg.send(crm_says(Kind.REACTION, ref="123456789:42", reaction="🧀"))
    (text,) = fake.sent
    assert text["text"] == "(reacted 🧀)" and text["reply_parameters"]["message_id"] == 42
    assert len(fake.reactions) == 3 and fake.errors == []


async def test_customer_reactions_reach_the_crm_and_removal_too(start_relay: RelayFactory, fake_tg: Fake) -> None:
    fake, api = fake_tg
    client, relay = await started(start_relay, api)
    await relay.engine.deliver(crm_says(text=RichText.of("Your parcel left the warehouse")))
    seen = to_crm(relay)
    for new in (["🔥"], []):
        update = fake.reacted(123456789, fake.sent[0]["result"]["message_id"], new)
        assert (await client.post("/hooks/tg/", json=update, headers=HEADERS)).status == 200
    assert [(m.kind, m.reaction, m.ref) for m in seen] == [
        (Kind.REACTION, "🔥", "crm-ask-1"),
        (Kind.REACTION, "", "crm-ask-1"),
    ]


async def test_polling_asks_for_reactions_and_callbacks_by_name(start_relay: RelayFactory, fake_tg: Fake) -> None:
    fake, api = fake_tg
    _, relay = await start_relay(to_inbox(api, {"mode": "polling", "secret_token": None}))
    seen = to_crm(relay)
    fake.push(fake.reacted(123456789, 42, ["👍"]))
    await eventually(lambda: len(seen) == 1)
    asked = [p["allowed_updates"] for m, p in fake.calls if m == "getUpdates" and "allowed_updates" in p]
    assert asked and all("message_reaction" in a and "callback_query" in a for a in asked)
    assert seen[0].kind is Kind.REACTION and seen[0].reaction == "👍" and seen[0].ref == "123456789:42"


@pytest.mark.parametrize("name", ["callback_query", "message_reaction", "message_reaction_removed"])
def test_recorded_interactions_parse_in_ptb_and_agree_with_the_conversion(name: str) -> None:
    update = Update.de_json(payload(name), None)
    accept = Accept(private=True)
    if update.callback_query is not None:
        q = update.callback_query
        m = choice_message(payload(name), "tg", accept)
        assert m is not None and q.message is not None and m.choice is not None
        assert m.choice.id == q.data and m.choice.title == "Freitag"
        assert m.ref == f"{q.message.chat.id}:{q.message.message_id}" and m.sender is not None
        assert m.sender.id == str(q.from_user.id) and m.event_id == str(update.update_id)
        return
    r = update.message_reaction
    assert r is not None and r.user is not None
    m = reaction_message(payload(name), "tg", accept)
    assert m is not None and m.kind is Kind.REACTION and m.sent_at == r.date
    assert m.reaction == "".join(getattr(x, "emoji", "") for x in r.new_reaction)
    assert m.ref == f"{r.chat.id}:{r.message_id}" and m.sender is not None and m.sender.id == str(r.user.id)


def test_a_tap_in_a_chat_the_relay_does_not_carry_is_still_answered() -> None:
    answered: list[str] = []
    group = payload("callback_query")
    group["callback_query"]["message"]["chat"] = {"id": -100123, "type": "supergroup", "title": "Team"}
    assert update_message(group, "tg", Accept(private=True), logging.getLogger("t"), answered.append) is None
    assert answered == [group["callback_query"]["id"]]


async def test_with_files_the_keyboard_rides_on_the_captioned_send(start_relay: RelayFactory, fake_tg: Fake) -> None:
    fake, api = fake_tg
    _, relay = await started(start_relay, api)
    png = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\0" * 32
    photo = Attachment(name="slot.png", mime="image/png", size=len(png), data=png)
    await relay.engine.deliver(
        crm_says(Kind.MEDIA, text=RichText.of("Which slot?"), attachments=(photo,), choices=SLOTS)
    )
    (sent,) = fake.sent
    assert sent["method"] == "sendPhoto" and sent["caption"] == "Which slot?"
    assert [b["callback_data"] for b in sent["reply_markup"]["inline_keyboard"][0]] == ["slot-tomorrow", "slot-friday"]


async def test_a_link_that_is_not_http_is_refused_before_telegram(start_relay: RelayFactory, fake_tg: Fake) -> None:
    fake, api = fake_tg
    _, relay = await started(start_relay, api)
    bad = Choices(ChoiceStyle.URL, (Choice("x", "Open", url="javascript:alert(1)"),))
    with pytest.raises(DeliveryError) as refused:
        await relay.connectors["tg"].send(crm_says(text=RichText.of("?"), choices=bad))
    assert refused.value.reason is Reason.UNSUPPORTED and fake.requests("*/sendMessage") == []


async def test_choices_taps_and_reactions_leave_no_content_in_logs(
    start_relay: RelayFactory, fake_tg: Fake, canary: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake, api = fake_tg
    client, relay = await started(start_relay, api)
    pick = Choices(ChoiceStyle.BUTTONS, (Choice(f"id-{canary}", f"Title {canary}"),))
    await relay.engine.deliver(crm_says(text=RichText.of(f"Ask {canary}"), choices=pick))
    tap = fake.tap(fake.sent[0], f"id-{canary}")
    assert (await client.post("/hooks/tg/", json=tap, headers=HEADERS)).status == 200
    react = fake.reacted(123456789, fake.sent[0]["result"]["message_id"], ["🔥"])
    assert (await client.post("/hooks/tg/", json=react, headers=HEADERS)).status == 200
    await eventually(lambda: len(fake.answered) == 1)
    assert canary not in " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
