"""Sending through Twilio: opted-out numbers, throttling, concatenated long texts, per-number and per-recipient pace."""

from __future__ import annotations

import itertools
from typing import Any

from relay.model import Address, Kind, Message
from relay.richtext import RichText
from tests.conftest import RelayFactory
from tests.connectors.twilio_sms.fake_account import API
from tests.connectors.twilio_sms.helpers import CUSTOMER, make_rig, until
from tests.support.crm_sink import CrmSink


async def _conversation(rig: Any, customer: str = CUSTOMER) -> str:
    await rig.fake.text(customer, "hello")
    return str(next(e for e in rig.sink.messages() if e["sender"]["phone"] == customer)["conversation"])


async def test_stop_is_an_opt_out_event_and_a_21610_is_reported_as_opted_out(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    rig = await make_rig(aiohttp_server, start_relay, crm_sink)
    conversation = await _conversation(rig)
    await rig.fake.text(CUSTOMER, "STOP")
    assert [e["type"] for e in rig.sink.received] == ["message", "opt_out"]
    resp = await rig.answer(conversation, "crm-9", "Are you sure?")
    assert resp.status == 422 and (await resp.json())["reason"] == "opted_out"
    assert rig.fake.sent_to(CUSTOMER) == []
    await rig.fake.text(CUSTOMER, "START")
    assert rig.sink.received[-1]["type"] == "opt_in"
    assert (await rig.answer(conversation, "crm-10", "Welcome back")).status == 200


async def test_a_429_waits_and_sends_once(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    rig = await make_rig(aiohttp_server, start_relay, crm_sink)
    conversation = await _conversation(rig)
    rig.fake.fail(f"{API}/Messages.json", 429, {"code": 20429}, headers={"Retry-After": "1"}, method="POST")
    resp = await rig.answer(conversation, "crm-1", "after the wait")
    assert resp.status == 200, await resp.text()
    assert len(rig.fake.requests(f"{API}/Messages.json", "POST")) == 2
    assert [s["Body"] for s in rig.fake.sent_to(CUSTOMER)] == ["after the wait"]


async def test_a_long_text_goes_as_one_concatenated_message_up_to_the_limit(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    rig = await make_rig(aiohttp_server, start_relay, crm_sink, max_length=700, max_rate=100)
    conversation = await _conversation(rig)
    words = " ".join(f"word{i}" for i in range(200))
    assert len(words) > 700
    resp = await rig.answer(conversation, "crm-1", words[:690])
    assert resp.status == 200
    resp = await rig.answer(conversation, "crm-2", words)
    assert resp.status == 200
    bodies = [s["Body"] for s in rig.fake.sent_to(CUSTOMER)]
    assert bodies[0] == words[:690]
    assert len(bodies) == 1 + -(-len(words) // 700) and all(len(b) <= 700 for b in bodies)
    assert " ".join(bodies[1:]).split() == words.split()


def _most_in_any_second(times: list[float]) -> int:
    return max(sum(1 for t in times if start <= t < start + 0.9) for start in times)


async def test_a_burst_is_paced_at_the_number_class(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    rig = await make_rig(aiohttp_server, start_relay, crm_sink, number_type="toll_free")
    customers = [f"+49151000000{i:02d}" for i in range(9)]
    conversations = [await _conversation(rig, c) for c in customers]
    import asyncio

    answers = [rig.answer(c, f"crm-{i}", "short reply") for i, c in enumerate(conversations)]
    results = await asyncio.gather(*answers)
    assert all(r.status in (200, 503) for r in results)
    await until(lambda: len(rig.fake.sends) == 9, timeout=20)
    times = [t for t, _ in rig.fake.sends]
    assert _most_in_any_second(times) <= 3, "toll-free sends at most 3 segments a second"
    assert times[-1] - times[0] >= (9 - 3) / 3 - 0.1


async def test_segments_count_and_each_recipient_has_its_own_limit(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    rig = await make_rig(aiohttp_server, start_relay, crm_sink, max_rate=20, recipient_rate=2, recipient_burst=1)
    sms = rig.relay.connectors["sms"]
    counter = itertools.count()

    def to(text: str) -> Message:
        return Message(
            kind=Kind.TEXT,
            id=f"a{next(counter)}",
            origin="crm",
            conversation=Address("sms", CUSTOMER),
            text=RichText.of(text),
        )

    for _ in range(3):
        await rig.relay.engine.deliver(to("one"), deadline=10)
    times = [t for t, _ in rig.fake.sends]
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.4, "2 a second to one recipient"
    rig.fake.sends.clear()
    long = "x" * 1530
    await sms.send(to(long))
    await sms.send(to("next"))
    (first, _), (second, _) = rig.fake.sends
    assert second - first >= 10 / 20 - 0.1, "a 10-segment text holds the number for 10 segments' time"


async def test_a_notice_to_the_customer_asks_for_no_receipts(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    rig = await make_rig(aiohttp_server, start_relay, crm_sink)
    notice = Message(
        kind=Kind.NOTICE, id="n1", origin="sms", conversation=Address("sms", CUSTOMER), text=RichText.of("not sent")
    )
    await rig.relay.connectors["sms"].send(notice)
    assert "StatusCallback" not in rig.fake.sent_to(CUSTOMER)[0], "the CRM is not told about its own notices"
