"""STOP, START and HELP over SMS: the core's consent ledger answers them, and an opted-out number is refused
before any call to Twilio (which also blocks the number itself and sends its own confirmation)."""

from __future__ import annotations

from typing import Any

from tests.conftest import RelayFactory
from tests.connectors.twilio_sms.helpers import CUSTOMER, make_rig
from tests.support.crm_sink import CrmSink


async def test_stop_and_start_over_sms_follow_the_ledger(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    rig = await make_rig(aiohttp_server, start_relay, crm_sink)
    await rig.fake.text(CUSTOMER, "Stop texting me after this, ok?")
    conversation = rig.sink.messages()[0]["conversation"]
    assert rig.sink.messages()[0]["message"]["text"] == "Stop texting me after this, ok?", "not a keyword"

    await rig.fake.text(CUSTOMER, "  stop ")
    opt_out = rig.sink.messages("opt_out")
    assert len(opt_out) == 1 and opt_out[0]["message"]["text"] == "", "the CRM gets the event, not the words"
    attempts = len(rig.fake.requests("*/Messages.json", "POST"))

    resp = await rig.answer(conversation, "crm-1", "A promotion")
    assert resp.status == 422 and (await resp.json())["reason"] == "opted_out"
    assert len(rig.fake.requests("*/Messages.json", "POST")) == attempts, "refused before any call to Twilio"

    await rig.fake.text(CUSTOMER, "start")
    assert len(rig.sink.messages("opt_in")) == 1
    rig.fake.optouts.discard(CUSTOMER)
    resp = await rig.answer(conversation, "crm-2", "Welcome back")
    assert resp.status == 200, await resp.text()
    assert rig.fake.sent_to(CUSTOMER)[-1]["Body"] == "Welcome back"


async def test_help_is_answered_with_the_configured_text(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    help_text = "Acme support: reply STOP to stop texts."
    rig = await make_rig(aiohttp_server, start_relay, crm_sink, consent={"backend": "memory", "help_reply": help_text})
    await rig.fake.text(CUSTOMER, "HELP")
    assert [s["Body"] for s in rig.fake.sent_to(CUSTOMER)] == [help_text]
    await rig.fake.text(CUSTOMER, "help me with my order")
    assert rig.sink.messages()[-1]["message"]["text"] == "help me with my order", "only the whole word is a keyword"
