"""Twilio retries a webhook once within 15 s: what the CRM could not take is read back from Twilio's log."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from tests.conftest import RelayFactory
from tests.connectors.twilio_sms.fake import FakeTwilio
from tests.connectors.twilio_sms.fake_account import NUMBER, Logged
from tests.connectors.twilio_sms.helpers import Clock, Rig, make_rig, until
from tests.support.crm_sink import CrmSink

FAST: dict[str, Any] = {"ack_deadline": 1.0, "reconcile_delay": 0.05, "reconcile_max_interval": 0.2}


def _texts(rig: Rig) -> Counter[str]:
    return Counter(str(e["message"]["text"]) for e in rig.sink.messages())


async def _outage_rig(aiohttp_server: Any, start_relay: RelayFactory, crm_sink: Any, **sms: Any) -> tuple[Rig, Clock]:
    clock = Clock()
    fake = FakeTwilio(clock)
    fake.retry_pause = 0.1
    rig = await make_rig(aiohttp_server, start_relay, crm_sink, fake=fake, **FAST, **sms)
    rig.relay.connectors["sms"].reconciler.clock = clock  # type: ignore[attr-defined]
    return rig, clock


async def test_a_five_minute_crm_outage_loses_no_sms_and_delivers_each_once(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    rig, clock = await _outage_rig(aiohttp_server, start_relay, crm_sink)
    outage = rig.sink.fail("/crm", 503, {"error": "down"}, times=None)
    sent = []
    for minute in range(5):
        clock.advance(60)
        for n in range(2):
            text = f"minute {minute} text {n}"
            sent.append(text)
            await rig.fake.text(f"+4915100000{minute}{n}", text)
    assert len(rig.fake.errors) == 10 and {code for _, code in rig.fake.errors} == {11200}
    assert rig.sink.messages() == [], "the CRM took nothing while it was down"
    assert all(n == 2 for n in rig.fake.attempts.values()), "Twilio tried each webhook twice, then gave up"
    outage.times = 0
    await until(lambda: sum(_texts(rig).values()) >= len(sent), timeout=20)
    await asyncio.sleep(0.5)
    assert _texts(rig) == Counter(sent), "every text once"
    assert len(set(rig.sink.event_ids)) == len(sent)
    assert rig.relay.metrics.value("relay_reconciled_total", connector="sms", outcome="delivered") == len(sent)
    assert await rig.relay.connectors["sms"].reconciler.marker() is None  # type: ignore[attr-defined]


async def test_the_horizon_bounds_how_far_back_a_pass_reads(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    rig, clock = await _outage_rig(aiohttp_server, start_relay, crm_sink, reconcile_horizon=600, reconcile_on_start=300)
    outage = rig.sink.fail("/crm", 503, {"error": "down"}, times=None)
    await rig.fake.text("+491510000001", "too old by the time the CRM is back")
    clock.advance(3600)
    await rig.fake.text("+491510000002", "recent")
    outage.times = 0
    await until(lambda: "recent" in _texts(rig), timeout=20)
    await asyncio.sleep(0.3)
    assert _texts(rig) == Counter(["recent"])


async def test_a_start_up_pass_delivers_what_arrived_while_the_relay_was_down(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    fake = FakeTwilio()
    now = fake.clock()
    fake.log += [
        Logged("SM" + "c3" * 16, "+491510000003", NUMBER, "while you were down", "inbound", "received", now - 120),
        Logged("SM" + "d4" * 16, "+491510000004", NUMBER, "long ago", "inbound", "received", now - 7200),
        Logged("SM" + "e5" * 16, NUMBER, "+491510000004", "an answer we sent", "outbound-api", "sent", now - 60),
    ]
    rig = await make_rig(aiohttp_server, start_relay, crm_sink, fake=fake, reconcile_on_start=900)
    await until(lambda: bool(rig.sink.messages()))
    await asyncio.sleep(0.2)
    assert _texts(rig) == Counter(["while you were down"])


async def test_what_the_dedup_claims_show_as_delivered_is_not_delivered_again(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    rig, _ = await _outage_rig(aiohttp_server, start_relay, crm_sink)
    await rig.fake.text("+491510000005", "delivered the first time")
    reconciler = rig.relay.connectors["sms"].reconciler  # type: ignore[attr-defined]
    before = rig.relay.metrics.value("relay_reconciled_total", connector="sms", outcome="duplicate")
    assert await reconciler.reconcile(startup=True)
    assert _texts(rig) == Counter(["delivered the first time"])
    assert rig.relay.metrics.value("relay_reconciled_total", connector="sms", outcome="duplicate") == before + 1
