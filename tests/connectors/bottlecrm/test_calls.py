"""Call events become call interactions in BottleCRM: outcome, seconds talked, a content-free body."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relay.model import Address, Attachment, CallEvent, CallStatus, Kind, Message, Party
from tests.connectors.bottlecrm.conftest import Wired
from tests.connectors.bottlecrm.fake import FakeCrm
from tests.connectors.bottlecrm.test_fake import relay_for

PHONE = "+4915112345678"


@pytest.fixture
async def bottle(aiohttp_server: Any) -> tuple[FakeCrm, str]:
    crm = FakeCrm()
    server = await aiohttp_server(crm.app())
    return crm, str(server.make_url("")).rstrip("/")


def call(
    status: CallStatus, duration: int | None = None, name: str = "Ana Silva", phone: str = PHONE, **more: Any
) -> Message:
    return Message(
        kind=Kind.CALL,
        id=f"CA1:{status}",
        origin="webchat",
        conversation=Address("webchat", "caller-1"),
        sender=Party(id=phone, phone=phone, name=name),
        sent_at=datetime.now(UTC) - timedelta(minutes=3),
        call=CallEvent("inbound", status, duration),
        **more,
    )


async def test_missed_and_answered_calls_are_call_interactions(start_relay: Any, bottle: tuple[FakeCrm, str]) -> None:
    crm, url = bottle
    _, _, conn = await relay_for(start_relay, url)
    assert conn.capabilities.calls
    await conn.send(call(CallStatus.MISSED))
    await conn.send(call(CallStatus.ANSWERED, 192))
    missed, answered = crm.interactions
    assert missed["kind"] == "call" and missed["direction"] == "inbound" and missed["outcome"] == "no_answer"
    assert missed["subject"] == "Missed call via webchat"
    assert missed["body"].startswith("📞 Missed call (incoming), ") and PHONE not in missed["body"]
    assert "duration_seconds" not in missed
    assert answered["outcome"] == "connected" and answered["duration_seconds"] == 192
    created = [r for r in crm.records["contact"].values() if r.get("phone") == PHONE]
    assert len(created) == 1, "the caller's contact is found or created like a texter's"


async def test_a_recording_link_is_listed_only_when_the_event_has_one(
    start_relay: Any, bottle: tuple[FakeCrm, str]
) -> None:
    crm, url = bottle
    _, _, conn = await relay_for(start_relay, url)
    link = Attachment(name="recording", mime="audio/mpeg", url="https://pbx.example.com/rec/1")
    await conn.send(call(CallStatus.VOICEMAIL, 20, attachments=(link,)))
    item = crm.interactions[-1]
    assert item["outcome"] == "voicemail"
    assert item["body"].endswith("\n[recording](https://pbx.example.com/rec/1)")


@pytest.mark.peer
@pytest.mark.timeout(400)
async def test_the_real_bottlecrm_takes_a_call_interaction(wire: Any) -> None:
    w: Wired = await wire()
    conn = w.relay.connectors["crm"]
    phone = f"+49151{secrets.randbelow(10**8):08d}"
    await conn.send(call(CallStatus.MISSED, name=f"Caller {secrets.token_hex(4)}", phone=phone))
    status, found = await w.bot("POST", "/api/contacts/duplicates/", {"phone": phone})
    assert status == 200 and found["duplicates"], found
    contact = found["duplicates"][0]["id"]
    status, page = await w.bot("GET", f"/api/interactions/?contact={contact}")
    assert status == 200, page
    calls = [i for i in page["interactions"] if i["kind"] == "call"]
    assert calls and calls[0]["outcome"] == "no_answer" and calls[0]["direction"] == "inbound"
    assert calls[0]["body"].startswith("📞 Missed call (incoming)")
