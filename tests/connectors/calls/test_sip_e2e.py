"""End to end with a REAL SIP server and call generator (Kamailio and SIPp from Debian's packages): a customer
who texted the business calls it twice; the answered call and the missed one reach the CRM as call events in
that customer's SMS conversation, signed by Kamailio itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import RelayFactory, workspace
from tests.connectors.calls.contract import CALLS_SECRET, calls_config
from tests.connectors.twilio_sms.fake import FakeTwilio
from tests.connectors.twilio_sms.helpers import CUSTOMER, sms_config, until
from tests.peers.common import free_port
from tests.peers.sip import BUSY_NUMBER, DESK_NUMBER, SipPeer, missing
from tests.support.crm_sink import SINK_SECRET, CrmSink

pytestmark = [pytest.mark.peer, pytest.mark.timeout(120)]


@pytest.fixture
async def sip(
    start_relay: RelayFactory, aiohttp_server: Any, crm_sink: tuple[CrmSink, str]
) -> AsyncIterator[tuple[SipPeer, FakeTwilio, CrmSink]]:
    reason = missing()
    if reason is not None:
        pytest.skip(f"SIP peer unavailable: {reason}")
    fake = FakeTwilio()
    base = str((await aiohttp_server(fake.app())).make_url("")).rstrip("/")
    sink, url = crm_sink
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    connectors = {
        "sms": sms_config(base),
        "calls": calls_config(base, conversation_instance="sms"),
        "crm": {"type": "webhook", "url": url, "secret": SINK_SECRET},
    }
    raw = workspace(connectors, [{"from": ["sms", "calls"], "to": "crm"}], server={"public_url": public})
    await start_relay(raw, port=port)
    fake.sms_url = f"{public}/hooks/sms"
    peer = SipPeer(f"{public}/hooks/calls/events", CALLS_SECRET)
    await asyncio.to_thread(peer.start)
    try:
        yield peer, fake, sink
    finally:
        await asyncio.to_thread(peer.stop)


async def test_an_answered_and_a_missed_call_appear_in_the_callers_thread(
    sip: tuple[SipPeer, FakeTwilio, CrmSink],
) -> None:
    peer, fake, sink = sip
    await fake.text(CUSTOMER, "Please call me back about my order")
    thread = sink.messages()[0]["conversation"]
    answered = await asyncio.to_thread(peer.call, CUSTOMER, DESK_NUMBER, 2200)
    missed = await asyncio.to_thread(peer.call, CUSTOMER, BUSY_NUMBER)
    assert (answered, missed) == (0, 0), peer.log()
    await until(lambda: len(sink.messages("call")) == 2, timeout=15)
    calls = sink.messages("call")
    assert {c["conversation"] for c in calls} == {thread}, "both calls sit beside the customer's texts"
    (first, second) = calls
    assert first["call"]["status"] == "answered" and first["call"]["direction"] == "inbound"
    assert 2 <= first["call"]["duration"] <= 4, first["call"]
    assert second["call"] == {"direction": "inbound", "status": "missed", "duration": None}
    assert {c["sender"]["phone"] for c in calls} == {CUSTOMER}
    assert first["message"]["id"] != second["message"]["id"], "each SIP Call-ID is its own call"
