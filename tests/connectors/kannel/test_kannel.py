"""Kannel's callbacks and sendsms against the local stand-in: URL secret and address allowlist, texts both
ways (GSM 7-bit or UCS-2), delivery reports as receipts keeping the most final."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from relay.app import RELAY_KEY
from relay.http import sign
from relay.model import Address, Kind, Message
from relay.richtext import RichText
from tests.conftest import RelayFactory, workspace
from tests.connectors.kannel.contract import CUSTOMER, SECRET, kannel_config
from tests.connectors.kannel.fake import FakeKannel
from tests.connectors.twilio_sms.helpers import until
from tests.support.crm_sink import SINK_SECRET, CrmSink

PAYLOADS = Path(__file__).parent / "payloads"


async def _rig(aiohttp_server: Any, start_relay: RelayFactory, crm_sink: Any, **extra: Any) -> tuple[Any, Any]:
    fake = FakeKannel()
    base = str((await aiohttp_server(fake.app())).make_url("")).rstrip("/")
    _, url = crm_sink
    connectors = {"kn": kannel_config(base, **extra), "crm": {"type": "webhook", "url": url, "secret": SINK_SECRET}}
    client, _ = await start_relay(workspace(connectors, [{"from": ["kn"], "to": "crm"}]))
    fake.reach["http://127.0.0.1:8080"] = str(client.make_url("")).rstrip("/")
    return client, fake


def _query(name: str) -> str:
    return (PAYLOADS / name).read_text()


async def _answer(client: Any, conversation: str, mid: str, text: str) -> Any:
    raw = json.dumps({"conversation": conversation, "id": mid, "text": text}).encode()
    headers = {"X-Relay-Signature": sign(SINK_SECRET.encode(), raw), "Content-Type": "application/json"}
    return await client.post("/hooks/crm", data=raw, headers=headers)


async def test_recorded_callbacks_reach_the_crm_and_answers_go_out_with_reports(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    client, fake = await _rig(aiohttp_server, start_relay, crm_sink)
    sink = crm_sink[0]
    for name in ("mo.query", "mo_unicode.query"):
        resp = await client.get(f"/hooks/kn/mo/{SECRET}?{_query(name)}")
        assert resp.status == 200, await resp.text()
    texts = [e["message"]["text"] for e in sink.messages()]
    assert texts == ["Where is my order?", "Grüße 😀"]
    assert sink.messages()[0]["sender"]["phone"] == CUSTOMER
    assert sink.messages()[0]["message"]["sent_at"].startswith("2026-12-07T")
    again = await client.get(f"/hooks/kn/mo/{SECRET}?{_query('mo.query')}")
    assert (await again.json())["status"] == "duplicate", "Kannel's retries carry the same id"
    conversation = sink.messages()[0]["conversation"]
    assert (await _answer(client, conversation, "crm-1", "It ships today")).status == 200
    assert (await _answer(client, conversation, "crm-2", "Schöne Grüße 😀")).status == 200
    first, second = fake.sent
    assert (first["to"], first["text"], first["coding"], first["charset"]) == (CUSTOMER, "It ships today", "0", "UTF-8")
    assert second["coding"] == "2" and first["from"] == "+15550001111" and first["dlr-mask"] == "27"
    assert first["dlr-url"].startswith(f"http://127.0.0.1:8080/hooks/kn/dlr/{SECRET}?id=k")
    await until(lambda: len(sink.messages("status")) == 4)
    reports = {(e["message"]["reply_to"], e["message"]["status"]) for e in sink.messages("status")}
    assert reports == {("crm-1", "sent"), ("crm-1", "delivered"), ("crm-2", "sent"), ("crm-2", "delivered")}


async def test_reports_out_of_order_and_queued_ones_are_not_passed_on(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    client, fake = await _rig(aiohttp_server, start_relay, crm_sink)
    sink = crm_sink[0]
    fake.reports = (4, 1, 8)
    await client.get(f"/hooks/kn/mo/{SECRET}?{_query('mo.query')}")
    await _answer(client, sink.messages()[0]["conversation"], "crm-1", "hello")
    await until(lambda: len(fake.requests("/cgi-bin/sendsms")) == 1 and len(sink.messages("status")) >= 1)
    await until(lambda: not fake.background.busy)
    assert [e["message"]["status"] for e in sink.messages("status")] == ["delivered"]
    resp = await client.get(f"/hooks/kn/dlr/{SECRET}?{_query('dlr_queued.query')}")
    assert resp.status == 200 and (await resp.json())["status"] == "ignored"


async def test_callbacks_need_the_secret_and_an_allowed_address(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    client, _ = await _rig(aiohttp_server, start_relay, crm_sink)
    query = _query("mo.query")
    assert (await client.get(f"/hooks/kn/mo/wrong-secret-0123456789?{query}")).status == 403
    assert (await client.get(f"/hooks/kn/dlr/{SECRET[:-1]}?{_query('dlr_delivered.query')}")).status == 403
    bad = await client.get(f"/hooks/kn/mo/{SECRET}?to=%2B1555&text=x")
    assert bad.status == 400 and "id=%I" in (await bad.json())["error"]
    assert crm_sink[0].messages() == []
    elsewhere, _ = await _rig(aiohttp_server, start_relay, crm_sink, allow_from=["10.20.0.0/16"])
    resp = await elsewhere.get(f"/hooks/kn/mo/{SECRET}?{query}")
    assert resp.status == 403 and "allow_from" in (await resp.json())["error"]
    assert crm_sink[0].messages() == []


async def test_a_refused_login_and_an_empty_text_are_failures_for_good(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    client, fake = await _rig(aiohttp_server, start_relay, crm_sink, password="not-the-kannel-password")
    await client.get(f"/hooks/kn/mo/{SECRET}?{_query('mo.query')}")
    resp = await _answer(client, crm_sink[0].messages()[0]["conversation"], "crm-1", "hello")
    assert resp.status == 422 and (await resp.json())["reason"] == "platform_auth_failed"
    assert fake.sent == []


async def test_a_notice_to_the_customer_asks_for_no_reports(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    client, fake = await _rig(aiohttp_server, start_relay, crm_sink)
    conn = client.app[RELAY_KEY].connectors["kn"]
    notice = Message(
        kind=Kind.NOTICE, id="n1", origin="kn", conversation=Address("kn", CUSTOMER), text=RichText.of("not sent")
    )
    assert (await conn.send(notice)).startswith("k")
    assert fake.sent[0]["dlr-mask"] == "0", "the CRM is not told about its own notices"
