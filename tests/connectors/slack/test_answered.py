"""Choices are answered once: the buttons give way to the pick (chat.update); a second click relays nothing."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from connectors.slack.answers import update_refusal
from connectors.slack.blocks import answered
from relay.errors import DeliveryError
from relay.interact import Choice
from relay.model import Kind
from relay.reasons import Reason
from relay.richtext import RichText
from relay.state import MemoryStateStore
from tests.conftest import RelayFactory
from tests.connectors.slack.fake_slack import PAYLOADS, FakeSlack
from tests.connectors.slack.test_interact import SLOTS, crm_says, form_signed, started
from tests.connectors.slack.test_socket import socket_relay, until
from tests.support.crm_sink import CrmSink
from tests.support.spy import refuse_once


async def ask(relay: Any, fake: FakeSlack, text: str = "When shall we *deliver*?") -> str:
    result = await relay.engine.deliver(crm_says(text=RichText.of(text), choices=SLOTS))
    assert result.outcome.value == "delivered", result
    return next(iter(fake.posted))


async def test_a_click_replaces_the_buttons_with_the_choice_and_keeps_the_text(
    start_relay: RelayFactory, fake_slack: FakeSlack
) -> None:
    client, relay, seen = await started(start_relay, fake_slack)
    ts = await ask(relay, fake_slack)
    raw = fake_slack.click(ts, "slot-friday")
    resp = await client.post("/hooks/slack/interactions", data=raw, headers=form_signed(raw))
    assert (await resp.json())["status"] == "delivered" and len(seen) == 1
    await until(lambda: fake_slack.calls_to("chat.update"))
    (update,) = fake_slack.calls_to("chat.update")
    assert (update["channel"], update["ts"], update["text"]) == ("D024BE91L", ts, "When shall we *deliver*?")
    section, line = fake_slack.posted[ts]["blocks"]
    assert section == {"type": "section", "text": {"type": "mrkdwn", "text": "When shall we *deliver*?"}}
    assert line == {"type": "context", "elements": [{"type": "plain_text", "text": "✓ Friday", "emoji": True}]}
    assert fake_slack.posted[ts]["text"] == "When shall we *deliver*?"


async def test_a_second_click_on_an_answered_message_relays_nothing(
    start_relay: RelayFactory, fake_slack: FakeSlack
) -> None:
    client, relay, seen = await started(start_relay, fake_slack)
    ts = await ask(relay, fake_slack)
    first, stale = fake_slack.click(ts, "slot-friday"), fake_slack.click(ts, "slot-tomorrow")
    resp = await client.post("/hooks/slack/interactions", data=first, headers=form_signed(first))
    assert (await resp.json())["status"] == "delivered"
    await until(lambda: fake_slack.calls_to("chat.update"))
    resp = await client.post("/hooks/slack/interactions", data=stale, headers=form_signed(stale))
    assert resp.status == 200 and (await resp.json())["status"] == "duplicate"
    assert [m.choice for m in seen] == [Choice("slot-friday", "Friday")]
    assert len(fake_slack.calls_to("chat.update")) == 1
    state = relay.connectors["slack"].ctx.state
    assert isinstance(state, MemoryStateStore)
    assert not any("D024BE91L" in key or ts in key for key in state._data)


async def test_two_clicks_at_once_deliver_one_choice(start_relay: RelayFactory, fake_slack: FakeSlack) -> None:
    client, relay, seen = await started(start_relay, fake_slack)
    ts = await ask(relay, fake_slack)
    clicks = [fake_slack.click(ts, "slot-friday"), fake_slack.click(ts, "slot-tomorrow")]
    answers = await asyncio.gather(
        *(client.post("/hooks/slack/interactions", data=raw, headers=form_signed(raw)) for raw in clicks)
    )
    assert sorted([(await r.json())["status"] for r in answers]) == ["delivered", "duplicate"]
    assert len(seen) == 1


async def test_a_choice_the_crm_refused_leaves_the_buttons_to_try_again(
    start_relay: RelayFactory, fake_slack: FakeSlack
) -> None:
    client, relay, seen = await started(start_relay, fake_slack)
    ts = await ask(relay, fake_slack)
    refuse_once(relay, DeliveryError(Reason.PLATFORM_REJECTED, detail="test"))
    raw = fake_slack.click(ts, "slot-friday")
    resp = await client.post("/hooks/slack/interactions", data=raw, headers=form_signed(raw))
    assert (await resp.json())["status"] == "failed"
    await asyncio.sleep(0.05)
    assert fake_slack.calls_to("chat.update") == [] and fake_slack.posted[ts]["blocks"][-1]["type"] == "actions"
    again = fake_slack.click(ts, "slot-friday")
    resp = await client.post("/hooks/slack/interactions", data=again, headers=form_signed(again))
    assert (await resp.json())["status"] == "delivered"
    assert [m.choice for m in seen] == [Choice("slot-friday", "Friday")]
    await until(lambda: fake_slack.calls_to("chat.update"))
    assert fake_slack.posted[ts]["blocks"][-1]["type"] == "context"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("message_not_found", Reason.UNKNOWN_MESSAGE),
        ("cant_update_message", Reason.PLATFORM_REJECTED),
        ("edit_window_closed", Reason.PLATFORM_REJECTED),
    ],
)
async def test_an_update_slack_refuses_never_fails_the_delivery(
    start_relay: RelayFactory,
    fake_slack: FakeSlack,
    canary: str,
    caplog: pytest.LogCaptureFixture,
    error: str,
    reason: Reason,
) -> None:
    caplog.set_level(logging.DEBUG)
    client, relay, seen = await started(start_relay, fake_slack)
    ts = await ask(relay, fake_slack, f"Ask {canary}")
    raw = fake_slack.click(ts, "slot-friday")
    if error == "message_not_found":
        gone = await relay.engine.deliver(crm_says(Kind.DELETE, id="crm-ask-1-d", ref="crm-ask-1"))
        assert gone.outcome.value == "delivered" and ts not in fake_slack.posted
    elif error == "cant_update_message":
        fake_slack.known.add(("D024BE91L", ts))
        del fake_slack.posted[ts]
    else:
        fake_slack.edit_closed.add(ts)
    resp = await client.post("/hooks/slack/interactions", data=raw, headers=form_signed(raw))
    assert resp.status == 200 and (await resp.json())["status"] == "delivered" and len(seen) == 1
    await until(lambda: any(r.getMessage() == "choice buttons left in place" for r in caplog.records))
    (logged,) = [r for r in caplog.records if r.getMessage() == "choice buttons left in place"]
    assert (logged.__dict__["reason"], logged.__dict__["code"]) == (reason, error)
    assert canary not in " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)


def test_update_refusals_map_to_reasons() -> None:
    gone = update_refusal(DeliveryError(Reason.PLATFORM_REJECTED, detail="message_not_found"))
    assert (gone.reason, gone.retryable, gone.detail) == (Reason.UNKNOWN_MESSAGE, False, "message_not_found")
    busy = DeliveryError(Reason.THROTTLED, retry_after=3.0, detail="ratelimited")
    assert update_refusal(busy) is busy


def test_the_recorded_click_becomes_an_update_keeping_the_text_and_other_blocks() -> None:
    body = json.loads((PAYLOADS / "block_actions.json").read_text())
    args = answered(body, "Friday")
    assert args is not None and (args["channel"], args["ts"]) == ("D024BE91L", "1736935800.000800")
    assert args["text"] == "When shall we deliver?"
    assert [b["type"] for b in args["blocks"]] == ["section", "context"] and args["blocks"][0]["block_id"] == "Xk1"
    assert answered(body | {"message": {"ts": "1"}}, "Friday") is None


async def test_socket_mode_clicks_are_answered_once_too(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    sink, url = crm_sink
    _, relay = await socket_relay(start_relay, fake_slack, url)
    await relay.engine.deliver(crm_says(text=RichText.of("When?"), choices=SLOTS).with_(origin="crm"))
    ts = next(iter(fake_slack.posted))
    first, stale = fake_slack.action(ts, "slot-friday"), fake_slack.action(ts, "slot-tomorrow")
    await fake_slack.push(first, "env-1", kind="interactive")
    await until(lambda: fake_slack.calls_to("chat.update"))
    await fake_slack.push(stale, "env-2", kind="interactive")
    await until(lambda: len(fake_slack.acks) == 2)
    assert [m["message"]["choice"]["id"] for m in sink.messages()] == ["slot-friday"]
    assert fake_slack.posted[ts]["blocks"][-1]["elements"][0]["text"] == "✓ Friday"
