"""End to end against a REAL Kannel 1.4 (bearerbox, smsbox, fakesmsc from Debian's packages): a handset's SMS
reaches the CRM and the answer comes back with delivery reports; what Kannel does when the relay answers 503;
and nothing of the traffic is left at rest."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from relay.logs import setup_logging
from tests.conftest import RelayFactory, workspace
from tests.connectors.kannel.contract import CUSTOMER, SECRET
from tests.connectors.twilio_sms.helpers import until
from tests.peers.common import free_port
from tests.peers.kannel import Kannel, missing
from tests.privacy.common import scan_files, scan_logs
from tests.support.audit import no_file_writes
from tests.support.crm_sink import SINK_SECRET, CrmSink

pytestmark = [pytest.mark.peer, pytest.mark.timeout(120)]
BUSINESS = "+15550001111"


class Wired:
    def __init__(self, client: Any, relay: Any, kannel: Kannel, sink: CrmSink) -> None:
        self.client, self.relay, self.kannel, self.sink = client, relay, kannel, sink

    async def answer(self, conversation: str, mid: str, text: str) -> Any:
        import json

        from relay.http import sign

        raw = json.dumps({"conversation": conversation, "id": mid, "text": text}).encode()
        headers = {"X-Relay-Signature": sign(SINK_SECRET.encode(), raw), "Content-Type": "application/json"}
        return await self.client.post("/hooks/crm", data=raw, headers=headers)


@pytest.fixture
async def wire(start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]) -> AsyncIterator[Callable[..., Any]]:
    reason = missing()
    if reason is not None:
        pytest.skip(f"Kannel peer unavailable: {reason}")
    gateways: list[Kannel] = []

    async def make(retries: int = 0, delay: int = 10, **sms: Any) -> Wired:
        sink, url = crm_sink
        port = free_port()
        kannel = Kannel(f"http://127.0.0.1:{port}/hooks/kn/mo/{SECRET}", retries=retries, delay=delay)
        gateways.append(kannel)
        cfg = {
            "type": "kannel",
            "sendsms_url": kannel.sendsms_url,
            "username": kannel.username,
            "password": kannel.password,
            "callback_secret": SECRET,
            "from_number": BUSINESS,
            "ack_deadline": 2.0,
            **sms,
        }
        crm = {"type": "webhook", "url": url, "secret": SINK_SECRET, "timeout": 1.0}
        raw = workspace(
            {"kn": cfg, "crm": crm}, [{"from": ["kn"], "to": "crm"}], server={"public_url": f"http://127.0.0.1:{port}"}
        )
        client, relay = await start_relay(raw, port=port)
        await asyncio.to_thread(kannel.start)
        return Wired(client, relay, kannel, sink)

    try:
        yield make
    finally:
        for kannel in gateways:
            await asyncio.to_thread(kannel.stop)


async def test_an_sms_reaches_the_crm_and_the_answer_reaches_the_handset(wire: Any, canary: str) -> None:
    stream = io.StringIO()
    setup_logging("debug", "json", stream=stream)
    started = time.time()
    w: Wired = await wire()
    try:
        with no_file_writes() as writes:
            handset = w.kannel.text(CUSTOMER, BUSINESS, f"Where is my order {canary}")
            await until(lambda: bool(w.sink.messages()), timeout=20)
            event = w.sink.messages()[0]
            assert event["message"]["text"] == f"Where is my order {canary}"
            assert event["sender"]["phone"] == CUSTOMER and event["channel"] == "kn"
            resp = await w.answer(event["conversation"], "crm-1", f"Schöne Grüße, it ships today {canary[::-1]}")
            assert resp.status == 200, await resp.text()
            await until(lambda: bool(handset.received()), timeout=20)
            assert handset.received() == [(BUSINESS, CUSTOMER, f"Schöne Grüße, it ships today {canary[::-1]}")]
            await until(lambda: len(w.sink.messages("status")) == 2, timeout=20)
    finally:
        import logging

        logging.getLogger().handlers.clear()
    assert [e["message"]["status"] for e in w.sink.messages("status")] == ["sent", "delivered"]
    assert {e["message"]["reply_to"] for e in w.sink.messages("status")} == {"crm-1"}
    assert [path for path in writes if path != "/dev/null"] == [], "only the handset's stdin was opened"
    needles = [canary, canary[::-1], CUSTOMER]
    assert scan_logs(stream.getvalue(), needles) == []
    assert scan_files(started, needles) == []


async def test_a_long_answer_arrives_as_one_concatenated_sms(wire: Any) -> None:
    w: Wired = await wire()
    handset = w.kannel.text(CUSTOMER, BUSINESS, "hello")
    await until(lambda: bool(w.sink.messages()), timeout=20)
    long = " ".join(f"word{i}" for i in range(60))
    assert (await w.answer(w.sink.messages()[0]["conversation"], "crm-1", long)).status == 200
    await until(lambda: len(handset.received()) >= 2, timeout=20)
    await until(lambda: "".join(text for _, _, text in handset.received()) == long, timeout=10)
    headers = handset.parts()
    assert len(headers) == 3 and len({udh[:15] for udh in headers}) == 1 and headers[0].startswith("%05%00%03")
    assert [udh[-3:] for udh in headers] == ["%01", "%02", "%03"], "one SMS in three concatenated parts"


async def test_kannel_retries_a_503_as_configured_and_nothing_is_lost(wire: Any) -> None:
    w: Wired = await wire(retries=30, delay=1)
    outage = w.sink.fail("/crm", 503, {"error": "down"}, times=None)
    handset = w.kannel.text(CUSTOMER, BUSINESS, "sent while the CRM is down")
    await asyncio.sleep(5)
    assert w.sink.messages() == []
    outage.times = 0
    await until(lambda: bool(w.sink.messages()), timeout=30)
    await asyncio.sleep(2)
    assert [e["message"]["text"] for e in w.sink.messages()] == ["sent while the CRM is down"]
    assert handset.received() == [], "no 'could not fetch' text goes to the customer"


async def test_without_retries_kannel_drops_a_text_the_relay_answered_503(wire: Any) -> None:
    """What Kannel does with a non-2xx answer by default (http-request-retry = 0): one attempt, then the text
    is gone; with reply-couldnotfetch left at its default it would even text the customer an error."""
    w: Wired = await wire(retries=0)
    outage = w.sink.fail("/crm", 503, {"error": "down"}, times=None)
    handset = w.kannel.text(CUSTOMER, BUSINESS, "lost without retries")
    await until(lambda: w.relay.metrics.value("relay_messages_total", connector="kn") >= 1, timeout=20)
    await asyncio.sleep(4)
    outage.times = 0
    await asyncio.sleep(2)
    assert w.sink.messages() == []
    assert w.relay.metrics.value("relay_messages_total", connector="kn") == 1, "Kannel called once"
    assert handset.received() == []
