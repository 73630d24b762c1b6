"""Twilio SMS end to end against the local Twilio: texts both ways, signatures behind a proxy, MMS, receipts."""

from __future__ import annotations

from typing import Any

from tests.conftest import RelayFactory
from tests.connectors.twilio_sms.fake_account import ACCOUNT, NUMBER, TOKEN
from tests.connectors.twilio_sms.fake_webhooks import twilio_signature
from tests.connectors.twilio_sms.helpers import CUSTOMER, make_rig, until
from tests.support.crm_sink import CrmSink

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 64


async def test_an_sms_reaches_the_crm_and_the_answer_comes_back(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    rig = await make_rig(aiohttp_server, start_relay, crm_sink)
    sid = await rig.fake.text(CUSTOMER, "Where is my order?")
    event = rig.sink.messages()[0]
    assert event["message"]["text"] == "Where is my order?" and event["message"]["id"] == sid
    assert event["sender"]["phone"] == CUSTOMER and event["channel"] == "sms"
    resp = await rig.answer(event["conversation"], "crm-1", "It ships **today**.")
    assert resp.status == 200, await resp.text()
    sent = rig.fake.sent_to(CUSTOMER)
    assert [s["Body"] for s in sent] == ["It ships today."]
    assert sent[0]["From"] == NUMBER and sent[0]["StatusCallback"] == "http://127.0.0.1:8080/hooks/sms/status"
    await until(lambda: len(rig.sink.messages("status")) == 2)
    statuses = [(e["message"]["status"], e["message"]["reply_to"]) for e in rig.sink.messages("status")]
    assert statuses == [("sent", "crm-1"), ("delivered", "crm-1")]


async def test_a_valid_signature_behind_the_proxy_is_accepted_a_forged_one_refused(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    rig = await make_rig(aiohttp_server, start_relay, crm_sink, public_url="https://sms.example.com")
    await rig.fake.text(CUSTOMER, "through the proxy")
    assert [e["message"]["text"] for e in rig.sink.messages()] == ["through the proxy"]
    params = [("AccountSid", ACCOUNT), ("MessageSid", "SM" + "b2" * 16), ("From", CUSTOMER), ("Body", "x")]
    body = "&".join(f"{k}={v.replace('+', '%2B')}" for k, v in params).encode()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    internal = str(rig.client.make_url("/hooks/sms"))
    cases = {
        "forged": ("sig" * 9 + "=", 403),
        "missing": ("", 401),
        "over the internal address": (twilio_signature(TOKEN, internal, params), 403),
        "another token": (twilio_signature("wrong-token-0123456789", "https://sms.example.com/hooks/sms", params), 403),
    }
    for name, (signature, status) in cases.items():
        headers = {**form, **({"X-Twilio-Signature": signature} if signature else {})}
        resp = await rig.client.post("/hooks/sms", data=body, headers=headers)
        assert resp.status == status, (name, resp.status)
    assert len(rig.sink.messages()) == 1
    with_port = twilio_signature(TOKEN, "https://sms.example.com:443/hooks/sms", params)
    resp = await rig.client.post("/hooks/sms", data=body, headers={**form, "X-Twilio-Signature": with_port})
    assert resp.status == 200, await resp.text()
    assert len(rig.sink.messages()) == 2


async def test_mms_both_ways_through_sealed_media_links(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str], aiohttp_client: Any
) -> None:
    rig = await make_rig(aiohttp_server, start_relay, crm_sink)
    await rig.fake.text(CUSTOMER, "photo of the damage", media=[(PNG, "image/png")])
    event = rig.sink.messages()[0]
    link = event["message"]["attachments"][0]["url"]
    assert link.startswith("http://127.0.0.1:8080/media/") and "twilio" not in link
    resp = await rig.client.get(link.replace("http://127.0.0.1:8080", ""))
    assert resp.status == 200 and await resp.read() == PNG
    files = await aiohttp_server(_file_host())
    crm_file = str(files.make_url("/label.png"))
    resp = await rig.answer(event["conversation"], "crm-2", "Here is the label", attachments=[{"url": crm_file}])
    assert resp.status == 200, await resp.text()
    sent = rig.fake.sent_to(CUSTOMER)[0]
    assert sent["Body"] == "Here is the label" and sent["media"] == "1"
    assert rig.fake.fetched[0][0].startswith("http://127.0.0.1:8080/media/")
    assert rig.fake.fetched[0][1] == PNG


def _file_host() -> Any:
    from aiohttp import web

    async def label(request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")

    app = web.Application()
    app.router.add_get("/label.png", label)
    return app


async def test_receipts_out_of_order_keep_the_most_final(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    rig = await make_rig(aiohttp_server, start_relay, crm_sink)
    rig.fake.reorder = True
    await rig.fake.text(CUSTOMER, "hi")
    await rig.answer(rig.sink.messages()[0]["conversation"], "crm-1", "hello")
    await until(lambda: rig.fake.attempts.get("", 0) >= 2)
    await until(lambda: len(rig.sink.messages("status")) >= 1)
    assert [e["message"]["status"] for e in rig.sink.messages("status")] == ["delivered"]


async def test_an_undelivered_text_reports_why(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    rig = await make_rig(aiohttp_server, start_relay, crm_sink)
    rig.fake.final_status, rig.fake.final_error = "undelivered", "30003"
    await rig.fake.text(CUSTOMER, "hi")
    await rig.answer(rig.sink.messages()[0]["conversation"], "crm-1", "hello")
    await until(lambda: any(e["message"]["status"] == "failed" for e in rig.sink.messages("status")))
    failed = next(e for e in rig.sink.messages("status") if e["message"]["status"] == "failed")
    assert failed["message"]["reason"] == "recipient_unreachable"
