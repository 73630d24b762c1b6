"""The webhook CRM gets call events as `type: call` with the call object, in the caller's conversation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from relay.model import Address, CallEvent, CallStatus, Kind, Message, Party
from tests.conftest import RelayFactory, webhook_workspace

PHONE = "+4915112345678"


async def test_a_call_event_reaches_the_crm_as_type_call(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    _, relay = await start_relay(webhook_workspace(url))
    crm = relay.connectors["crm"]
    assert crm.capabilities.calls
    address = Address("webchat", "visitor-1")
    call = Message(
        kind=Kind.CALL,
        id="CA1:missed",
        origin="webchat",
        conversation=address,
        sender=Party(id=PHONE, phone=PHONE),
        sent_at=datetime(2026, 1, 5, 14, 2, tzinfo=UTC),
        call=CallEvent("inbound", CallStatus.MISSED),
    )
    await crm.send(call)
    event = sink.received[-1]
    assert event["type"] == "call"
    assert event["call"] == {"direction": "inbound", "status": "missed", "duration": None}
    assert event["conversation"] == relay.sealer.seal(address)
    assert event["message"]["text"] == "" and event["message"]["sent_at"] == "2026-01-05T14:02:00+00:00"
    assert event["sender"]["phone"] == PHONE
