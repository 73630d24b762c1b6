"""Webhook routes through a running relay: handshake, signatures, batches, every type, statuses, consent."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from tests.connectors.whatsapp.helpers import (
    CUSTOMER,
    OTHER,
    VERIFY_TOKEN,
    payload,
    signature,
    status_payload,
    text_payload,
)

OUT = "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABEYEjQyQUJDMDEyMzQ1Njc4OTAA"


async def post(env: Any, raw: bytes, headers: dict[str, str] | None = None) -> Any:
    return await env.client.post("/hooks/wa", data=raw, headers=signature(raw) if headers is None else headers)


async def test_handshake(make_env: Any) -> None:
    env = await make_env()
    ok = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    resp = await env.client.get("/hooks/wa", params=ok)
    assert resp.status == 200 and await resp.text() == "1158201444" and resp.content_type == "text/plain"
    for bad in ({**ok, "hub.verify_token": "wrong-token"}, {**ok, "hub.mode": "unsubscribe"}, {"hub.challenge": "1"}):
        resp = await env.client.get("/hooks/wa", params=bad)
        assert resp.status == 403
        assert "1158201444" not in await resp.text()


async def test_missing_and_wrong_signatures_deliver_nothing(make_env: Any) -> None:
    env = await make_env()
    raw = payload("text.json")
    assert (await post(env, raw, {"Content-Type": "application/json"})).status == 401
    wrong = signature(raw, secret="another-app-secret-000")
    assert (await post(env, raw, wrong)).status == 403
    assert (await post(env, raw, {"X-Hub-Signature-256": "sha1=" + wrong["X-Hub-Signature-256"][7:]})).status == 403
    tampered = raw.replace(b"shipped", b"SHIPPED")
    assert (await post(env, tampered, signature(raw))).status == 403
    assert env.sink.calls == 0
    assert (await post(env, raw)).status == 200
    assert env.sink.calls == 1


async def test_signature_is_checked_on_raw_bytes_with_escaped_unicode(make_env: Any) -> None:
    env = await make_env()
    raw = payload("unicode.json")
    assert b"\\u00e1" in raw and b"\\ud83d\\ude00" in raw
    reserialised = json.dumps(json.loads(raw), ensure_ascii=False).encode()
    assert (await post(env, raw, signature(reserialised))).status == 403
    assert env.sink.calls == 0
    resp = await post(env, raw)
    assert resp.status == 200, await resp.text()
    body = env.sink.messages()[0]
    assert body["message"]["text"] == "Olá! Pedido nº 42 😀 — “ok”" and body["sender"]["name"] == "Zoë Ñandú"


async def test_multi_entry_payload_delivers_every_message_once(make_env: Any) -> None:
    env = await make_env()
    raw = payload("multi_entry.json")
    assert (await post(env, raw)).status == 200
    texts = sorted(m["message"]["text"] for m in env.sink.messages())
    assert texts == ["first", "from B", "second", "third"]
    results = await asyncio.gather(*[post(env, raw) for _ in range(3)])
    assert [r.status for r in results] == [200] * 3
    assert len(env.sink.messages()) == 4
    chats = {m["sender"]["id"] for m in env.sink.messages()}
    assert chats == {CUSTOMER, OTHER}


async def test_every_inbound_type_reaches_the_crm(make_env: Any) -> None:
    env = await make_env()
    for name in ("types.json", "media.json"):
        resp = await post(env, payload(name))
        assert resp.status == 200, await resp.text()
    by_id = {b["message"]["id"][-8:-4]: b for b in env.sink.received}
    assert by_id["REA1"]["type"] == "reaction" and by_id["REA1"]["message"]["reaction"] == "👍"
    assert by_id["REA1"]["message"]["reply_to"] == OUT
    assert by_id["RPL1"]["message"]["reply_to"] == OUT and by_id["BTN1"]["message"]["text"] == "Yes, confirm"
    assert by_id["UNS1"]["type"] == "message" and by_id["UNS1"]["message"]["reason"] == "unsupported_message_type"
    assert "maps.google.com" in by_id["LOC1"]["message"]["markdown"]
    image = by_id["IMG1"]["message"]
    assert image["text"] == "receipt" and image["attachments"][0]["name"] == "image.jpg"
    assert "/media/" in image["attachments"][0]["url"]
    assert "1029384756" not in json.dumps(env.sink.received)
    assert len(env.sink.received) == 14


async def test_statuses_out_of_order_and_deduplicated(make_env: Any) -> None:
    env = await make_env()
    assert (await post(env, payload("statuses.json"))).status == 200
    states = [b["message"]["status"] for b in env.sink.messages("status")]
    assert states[0] == "sent" and states[-1] == "read"
    assert (await post(env, status_payload(OUT, "delivered", "sent"))).status == 200
    assert (await post(env, status_payload(OUT, "read"))).status == 200
    assert [b["message"]["status"] for b in env.sink.messages("status")] == states
    assert (await post(env, status_payload(OUT, "failed", code=131026))).status == 200
    failed = env.sink.messages("status")[-1]["message"]
    assert failed["status"] == "failed" and failed["reason"] == "recipient_unreachable"


async def test_crm_down_asks_meta_to_redeliver(make_env: Any) -> None:
    env = await make_env(ack_deadline=1.0)
    env.sink.mode = "500"
    resp = await post(env, payload("multi_entry.json"))
    assert resp.status == 503 and "Retry-After" in resp.headers
    env.sink.mode = "ok"
    assert (await post(env, payload("multi_entry.json"))).status == 200
    assert len(env.sink.messages()) == 4


async def test_foreign_number_and_other_fields_are_ignored(make_env: Any) -> None:
    env = await make_env()
    raw = payload("text.json").replace(b"109876543210", b"999999999999")
    resp = await post(env, raw)
    assert resp.status == 200 and (await resp.json())["status"] == "ignored"
    assert env.sink.calls == 0
    assert (await post(env, b"[1, 2]")).status == 400
    assert (await post(env, b"not json")).status == 400


async def test_opt_out_and_opt_in(make_env: Any) -> None:
    env = await make_env()
    assert (await post(env, text_payload("wamid.T1", "stop texting me"))).status == 200
    assert (await post(env, text_payload("wamid.T2", "yes"))).status == 200
    assert [b["type"] for b in env.sink.received] == ["message", "message"]
    assert (await post(env, text_payload("wamid.T3", "  Stop \n"))).status == 200
    assert env.sink.received[-1]["type"] == "opt_out" and await env.wa.policy.opted_out(CUSTOMER)
    assert (await post(env, text_payload("wamid.T4", "START"))).status == 200
    assert env.sink.received[-1]["type"] == "opt_in" and not await env.wa.policy.opted_out(CUSTOMER)
    assert (await post(env, text_payload("wamid.T5", "UNSUBSCRIBE", ts=int(time.time()) - 3600))).status == 200
    assert env.sink.received[-1]["type"] == "opt_out"
    assert not await env.wa.policy.opted_out(CUSTOMER), "an older keyword message must not override a newer one"
