"""Block Kit choices out and clicks back (signed interactions), reactions both ways: connector and fake Slack."""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient

from connectors.slack.blocks import choice_message
from relay.app import Relay
from relay.errors import DeliveryError
from relay.interact import Choice, Choices, ChoiceStyle
from relay.model import Address, Kind, Message
from relay.reasons import Reason
from relay.richtext import RichText
from tests.conftest import RelayFactory, workspace
from tests.connectors.slack.conftest import slack_config
from tests.connectors.slack.fake_slack import PAYLOADS, SIGNING_SECRET, FakeSlack, signed
from tests.support.spy import handed_to

DM = Address("slack", "D024BE91L")
SLOTS = Choices(ChoiceStyle.BUTTONS, (Choice("slot-tomorrow", "Tomorrow"), Choice("slot-friday", "Friday")))
INBOX_KEY = "inbox-test-key-123456"


def form_signed(raw: bytes, secret: str = SIGNING_SECRET, stamp: int | None = None) -> dict[str, str]:
    return signed(raw, secret, stamp) | {"Content-Type": "application/x-www-form-urlencoded"}


def crm_says(kind: Kind = Kind.TEXT, **fields: Any) -> Message:
    return Message(kind=kind, id=fields.pop("id", "crm-ask-1"), origin="inbox", conversation=DM, **fields)


def to_crm(relay: Relay) -> list[Message]:
    return handed_to(relay, "inbox")


async def started(start_relay: RelayFactory, fake: FakeSlack) -> tuple[TestClient[Any, Any], Relay, list[Message]]:
    raw = workspace(
        {"slack": slack_config(fake), "inbox": {"type": "inbox", "access_key": INBOX_KEY}},
        [{"from": ["slack"], "to": "inbox"}],
    )
    client, relay = await start_relay(raw)
    return client, relay, to_crm(relay)


async def test_buttons_go_out_as_blocks_and_the_click_comes_back_as_a_reply_with_the_choice(
    start_relay: RelayFactory, fake_slack: FakeSlack
) -> None:
    client, relay, seen = await started(start_relay, fake_slack)
    result = await relay.engine.deliver(crm_says(text=RichText.of("When shall we *deliver*?"), choices=SLOTS))
    assert result.outcome.value == "delivered", result
    ((ts, post),) = fake_slack.posted.items()
    assert post["text"] == "When shall we *deliver*?"
    section, actions = post["blocks"]
    assert section == {"type": "section", "text": {"type": "mrkdwn", "text": "When shall we *deliver*?"}}
    assert [(e["type"], e["text"]["text"], e["value"]) for e in actions["elements"]] == [
        ("button", "Tomorrow", "slot-tomorrow"),
        ("button", "Friday", "slot-friday"),
    ]
    raw = fake_slack.click(ts, "slot-friday")
    resp = await client.post("/hooks/slack/interactions", data=raw, headers=form_signed(raw))
    assert resp.status == 200 and (await resp.json())["status"] == "delivered", await resp.text()
    (got,) = seen
    assert got.choice == Choice("slot-friday", "Friday") and got.ref == "crm-ask-1"
    assert got.text.plain == "Friday" and got.sender is not None and got.sender.name == "Dana"
    resp = await client.post("/hooks/slack/interactions", data=raw, headers=form_signed(raw))
    assert resp.status == 200 and (await resp.json())["status"] == "duplicate" and len(seen) == 1


async def test_a_list_is_a_static_select_and_the_option_comes_back(
    start_relay: RelayFactory, fake_slack: FakeSlack
) -> None:
    client, relay, seen = await started(start_relay, fake_slack)
    sizes = tuple(Choice(f"size-{n}", n, description=f"EU {n}") for n in ("S", "M", "L"))
    await relay.engine.deliver(crm_says(choices=Choices(ChoiceStyle.LIST, sizes, button="Pick a size")))
    ((ts, post),) = fake_slack.posted.items()
    assert post["text"] == "Pick a size" and len(post["blocks"]) == 1
    (select,) = post["blocks"][0]["elements"]
    assert select["type"] == "static_select" and select["placeholder"]["text"] == "Pick a size"
    assert [o["value"] for o in select["options"]] == ["size-S", "size-M", "size-L"]
    raw = fake_slack.click(ts, "size-M")
    assert (await client.post("/hooks/slack/interactions", data=raw, headers=form_signed(raw))).status == 200
    assert [(m.choice, m.ref) for m in seen] == [(Choice("size-M", "M"), "crm-ask-1")]


async def test_links_are_url_buttons_and_opening_one_relays_nothing(
    start_relay: RelayFactory, fake_slack: FakeSlack
) -> None:
    client, relay, seen = await started(start_relay, fake_slack)
    links = Choices(ChoiceStyle.URL, (Choice("track", "Track parcel", url="https://t.example/p/1"),))
    await relay.engine.deliver(crm_says(text=RichText.of("Shipped"), choices=links))
    ((ts, post),) = fake_slack.posted.items()
    (button,) = post["blocks"][1]["elements"]
    assert button["url"] == "https://t.example/p/1" and "value" not in button
    body: dict[str, Any] = {"type": "block_actions", "user": {"id": "U2147483697"}, "container": {"message_ts": ts}}
    body |= {"channel": {"id": "D024BE91L"}, "actions": [{"action_id": "relay_choice_0", "type": "button"}]}
    raw = urlencode({"payload": json.dumps(body)}).encode()
    resp = await client.post("/hooks/slack/interactions", data=raw, headers=form_signed(raw))
    assert resp.status == 200 and seen == []


async def test_choice_values_over_slack_limits_are_refused_before_slack(
    start_relay: RelayFactory, fake_slack: FakeSlack
) -> None:
    _, relay, _ = await started(start_relay, fake_slack)
    long = Choices(ChoiceStyle.LIST, (Choice("x" * 151, "Too long"),))
    with pytest.raises(DeliveryError) as refused:
        await relay.connectors["slack"].send(crm_says(text=RichText.of("?"), choices=long))
    assert refused.value.reason is Reason.UNSUPPORTED and fake_slack.posted == {}


@pytest.mark.parametrize("how", ["unsigned", "wrong secret", "stale"])
async def test_an_interaction_with_a_bad_signature_is_401_before_parsing(
    start_relay: RelayFactory, fake_slack: FakeSlack, canary: str, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    caplog.set_level(logging.DEBUG)
    client, _, seen = await started(start_relay, fake_slack)
    raw = urlencode({"payload": json.dumps({"type": "block_actions", "user": {"name": canary}})}).encode()
    headers = {
        "unsigned": {"Content-Type": "application/x-www-form-urlencoded"},
        "wrong secret": form_signed(raw, "another-signing-secret-0123456789"),
        "stale": form_signed(raw, stamp=int(time.time()) - 301),
    }[how]
    resp = await client.post("/hooks/slack/interactions", data=raw, headers=headers)
    assert resp.status == 401 and seen == [] and fake_slack.calls == []
    assert canary not in await resp.text() and canary not in caplog.text


async def test_agent_reactions_add_remove_and_unknown_emoji_become_text_once(
    start_relay: RelayFactory, fake_slack: FakeSlack
) -> None:
    _, relay, _ = await started(start_relay, fake_slack)
    slack, target = relay.connectors["slack"], "D024BE91L:1736935200.000200"
    for emoji in ("👍", "👍", "❤", "✅"):
        assert await slack.send(crm_says(Kind.REACTION, ref=target, reaction=emoji)) == target
    assert [c["name"] for c in fake_slack.calls_to("reactions.add")] == [
        "thumbsup",
        "thumbsup",
        "heart",
        "white_check_mark",
    ]
    assert fake_slack.reacted[("D024BE91L", "1736935200.000200")] == {
        "thumbsup": ["U0RELAYBOT"],
        "heart": ["U0RELAYBOT"],
        "white_check_mark": ["U0RELAYBOT"],
    }
    await slack.send(crm_says(Kind.REACTION, ref=target, reaction=""))
    assert all(users == [] for users in fake_slack.reacted[("D024BE91L", "1736935200.000200")].values())
    await slack.send(crm_says(Kind.REACTION, ref=target, reaction="🧀"))
    (text,) = fake_slack.calls_to("chat.postMessage")
    assert text["text"] == "(reacted 🧀)" and text["channel"] == "D024BE91L"
    assert len(fake_slack.calls_to("reactions.add")) == 4


async def test_customer_reactions_and_their_removal_reach_the_crm(
    start_relay: RelayFactory, fake_slack: FakeSlack
) -> None:
    client, _, seen = await started(start_relay, fake_slack)
    for name in ("reaction_added", "reaction_removed"):
        raw = (PAYLOADS / f"{name}.json").read_bytes()
        resp = await client.post("/hooks/slack/events", data=raw, headers=signed(raw))
        assert resp.status == 200 and (await resp.json())["status"] == "delivered"
    assert [(m.kind, m.reaction, m.ref) for m in seen] == [
        (Kind.REACTION, "👍", "D024BE91L:1736935200.000200"),
        (Kind.REACTION, "", "D024BE91L:1736935200.000200"),
    ]


async def test_typing_is_not_claimed_and_never_reaches_slack(start_relay: RelayFactory, fake_slack: FakeSlack) -> None:
    _, relay, _ = await started(start_relay, fake_slack)
    assert relay.connectors["slack"].capabilities.typing is False
    result = await relay.engine.deliver(crm_says(Kind.TYPING))
    assert result.outcome.value == "delivered" and fake_slack.calls == []


def test_the_recorded_block_actions_payload_is_a_reply_with_the_choice() -> None:
    body = json.loads((PAYLOADS / "block_actions.json").read_text())
    m = choice_message(body, "slack", None)
    assert m is not None and m.choice == Choice("slot-friday", "Friday")
    assert m.ref == "D024BE91L:1736935800.000800" and m.conversation == Address("slack", "D024BE91L")
    assert m.event_id == "action:D024BE91L:1736935830.112233:U2147483697"


async def test_interactions_the_relay_does_not_carry_are_acknowledged_and_dropped(
    start_relay: RelayFactory, fake_slack: FakeSlack
) -> None:
    raw = workspace(
        {
            "slack": slack_config(fake_slack, channels=["C0SHARED01"]),
            "inbox": {"type": "inbox", "access_key": INBOX_KEY},
        },
        [{"from": ["slack"], "to": "inbox"}],
    )
    client, relay = await start_relay(raw)
    seen = to_crm(relay)
    recorded = json.loads((PAYLOADS / "block_actions.json").read_text())
    other_channel = recorded | {"container": recorded["container"] | {"channel_id": "C0OTHER001"}}
    own_click = recorded | {"user": {"id": "U0RELAYBOT"}}
    submission = {"type": "view_submission", "user": {"id": "U2147483697"}, "view": {"id": "V1"}}
    for body in (other_channel, own_click, submission):
        form = urlencode({"payload": json.dumps(body)}).encode()
        resp = await client.post("/hooks/slack/interactions", data=form, headers=form_signed(form))
        assert resp.status == 200 and (await resp.json())["status"] == "ignored", body["type"]
    for junk in (b"payload=%7Boops", b"nothing=1"):
        assert (await client.post("/hooks/slack/interactions", data=junk, headers=form_signed(junk))).status == 400
    assert seen == []


async def test_choices_and_clicks_leave_no_content_in_logs(
    start_relay: RelayFactory, fake_slack: FakeSlack, canary: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, relay, seen = await started(start_relay, fake_slack)
    pick = Choices(ChoiceStyle.BUTTONS, (Choice(f"id-{canary}", f"Title {canary}"),))
    await relay.engine.deliver(crm_says(text=RichText.of(f"Ask {canary}"), choices=pick))
    ((ts, _),) = fake_slack.posted.items()
    raw = fake_slack.click(ts, f"id-{canary}")
    assert (await client.post("/hooks/slack/interactions", data=raw, headers=form_signed(raw))).status == 200
    assert len(seen) == 1 and seen[0].choice is not None and canary in seen[0].choice.id
    assert canary not in " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
