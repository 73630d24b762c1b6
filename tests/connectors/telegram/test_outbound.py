"""Outbound: CRM answers rendered as entities, split, replies, edits, limits and error semantics."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from connectors.telegram.connector import BOT_LIMIT, GROUP_LIMIT, PRIVATE_LIMIT, TelegramConnector
from connectors.telegram.errors import delivery_error
from connectors.telegram.transport import NotSent
from relay.errors import DeliveryError
from relay.http import sign
from relay.model import Address, Kind, Message
from relay.richtext import RichText, utf16_len
from tests.conftest import RelayFactory
from tests.connectors.telegram.fake_api import SECRET, FakeTelegram
from tests.connectors.telegram.fake_entities import validate_entities
from tests.connectors.telegram.helpers import SECRET_HEADER, payload, to_crm
from tests.connectors.telegram.test_inbound import eventually
from tests.support.crm_sink import SINK_SECRET, CrmSink

Fake = tuple[FakeTelegram, str]
Sink = tuple[CrmSink, str]
HEADERS = {SECRET_HEADER: SECRET}


async def crm_post(client: TestClient[Any, Any], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    raw = json.dumps(body).encode()
    resp = await client.post(
        "/hooks/crm",
        data=raw,
        headers={"X-Relay-Signature": sign(SINK_SECRET.encode(), raw), "Content-Type": "application/json"},
    )
    return resp.status, await resp.json()


async def customer_wrote(client: TestClient[Any, Any], sink: CrmSink, name: str = "text", **changes: Any) -> str:
    resp = await client.post("/hooks/tg/", json=payload(name, **changes), headers=HEADERS)
    assert resp.status == 200, await resp.text()
    conversation: str = sink.received[-1]["conversation"]
    return conversation


def other_customer(chat_id: int, update_id: int) -> dict[str, Any]:
    msg = payload("text")["message"]
    msg["chat"] = {"id": chat_id, "type": "private", "first_name": "Bo"}
    msg["from"] = {"id": chat_id, "is_bot": False, "first_name": "Bo"}
    return {"update_id": update_id, "message": msg}


async def test_reply_is_rendered_with_entities_and_reply_parameters(
    start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink
) -> None:
    fake, api = fake_tg
    sink, url = crm_sink
    client, _ = await start_relay(to_crm(api, url))
    conv = await customer_wrote(client, sink)
    status, body = await crm_post(
        client,
        {"conversation": conv, "id": "out-1", "text": "**Hi** 😀 [track](https://t.example/1)", "reply_to": "crm-1"},
    )
    assert status == 200 and body["status"] == "delivered"
    (sent,) = fake.sent
    assert sent["chat_id"] == 123456789 and sent["text"] == "Hi 😀 track"
    assert {"type": "bold", "offset": 0, "length": 2} in sent["entities"]
    assert {"type": "text_link", "offset": 6, "length": 5, "url": "https://t.example/1"} in sent["entities"]
    assert sent["reply_parameters"] == {"message_id": 42, "allow_sending_without_reply": True}
    assert fake.errors == []


async def test_long_text_is_split_in_order_without_breaking_entities_or_surrogates(
    start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink
) -> None:
    fake, api = fake_tg
    sink, url = crm_sink
    client, _ = await start_relay(to_crm(api, url))
    conv = await customer_wrote(client, sink)
    source = "😀" * 1000 + " **bold 👍🏽 " + "crossing 👍🏽 " * 400 + "** tail `co*de` " + "é😀" * 1000
    status, body = await crm_post(client, {"conversation": conv, "id": "long-1", "text": source})
    assert status == 200, body
    assert fake.errors == [] and len(fake.sent) >= 3
    texts = [s["text"] for s in fake.sent]
    assert all(utf16_len(t) <= 4096 for t in texts)
    assert "".join(texts) == source.replace("**", "").replace("`", "")
    assert any(e["type"] == "bold" for e in fake.sent[0]["entities"] or [])
    assert any(e["type"] == "bold" for e in fake.sent[1]["entities"] or [])
    for s in fake.sent:
        assert validate_entities(s["text"], s.get("entities") or []) is None
    assert body["id"] == f"123456789:{fake.sent[0]['result']['message_id']}"


@pytest.mark.parametrize("fmt", ["plain", "markdown"])
async def test_tricky_characters_never_break_parsing(
    start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink, fmt: str
) -> None:
    fake, api = fake_tg
    sink, url = crm_sink
    client, _ = await start_relay(to_crm(api, url))
    conv = await customer_wrote(client, sink)
    tricky = "a < b > c & d * e _ f [g] (h) \\ i ` j ~ k | l # m + n - o = p { q } . ! <b>x</b> &amp; 😀👍🏽 **b _i_ **"
    status, body = await crm_post(client, {"conversation": conv, "id": f"tricky-{fmt}", "text": tricky, "format": fmt})
    assert status == 200, body
    assert fake.errors == []
    assert "parse_mode" not in fake.sent[0]
    if fmt == "plain":
        assert fake.sent[0]["text"] == tricky and not fake.sent[0].get("entities")


async def test_429_retry_after_holds_that_chat_only(start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink) -> None:
    fake, api = fake_tg
    sink, url = crm_sink
    client, _ = await start_relay(to_crm(api, url))
    conv_a = await customer_wrote(client, sink)
    resp = await client.post("/hooks/tg/", json=other_customer(555000111, 1), headers=HEADERS)
    assert resp.status == 200
    conv_b = sink.received[-1]["conversation"]
    fake.throttle("sendMessage", retry_after=2)
    started = time.monotonic()
    first = asyncio.create_task(crm_post(client, {"conversation": conv_a, "id": "a-1", "text": "to A"}))
    await eventually(lambda: fake.methods().count("sendMessage") == 1)
    status_b, _ = await crm_post(client, {"conversation": conv_b, "id": "b-1", "text": "to B"})
    status_a, body_a = await first
    assert (status_a, status_b) == (200, 200) and body_a["status"] == "delivered"
    assert [s["chat_id"] for s in fake.sent] == [555000111, 123456789]
    assert fake.methods().count("sendMessage") == 3
    assert time.monotonic() - started >= 2.0


async def test_blocked_user_is_reported_to_the_crm_and_not_retried(
    start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink
) -> None:
    fake, api = fake_tg
    sink, url = crm_sink
    client, _ = await start_relay(to_crm(api, url))
    conv = await customer_wrote(client, sink)
    fake.blocked.add(123456789)
    status, body = await crm_post(client, {"conversation": conv, "id": "out-blocked", "text": "hello?"})
    assert status == 422 and body == {"status": "failed", "reason": "recipient_unreachable"}
    await asyncio.sleep(0.3)
    assert sink.messages("status") == [], "the 422 answer is the one channel for this failure"
    assert fake.methods().count("sendMessage") == 1


async def test_other_4xx_is_reported_not_retried(start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink) -> None:
    fake, api = fake_tg
    sink, url = crm_sink
    client, _ = await start_relay(to_crm(api, url))
    conv = await customer_wrote(client, sink)
    fake.scripted["sendMessage"].append(
        (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    )
    status, body = await crm_post(client, {"conversation": conv, "id": "out-400", "text": "x"})
    assert status == 422 and body["reason"] == "platform_rejected" and body["code"] == "400"
    assert fake.methods().count("sendMessage") == 1


async def test_edit_and_delete_where_the_crm_changes_its_message(
    start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink
) -> None:
    fake, api = fake_tg
    sink, url = crm_sink
    client, _ = await start_relay(to_crm(api, url))
    conv = await customer_wrote(client, sink)
    _, sent = await crm_post(client, {"conversation": conv, "id": "out-e", "text": "Ship *Monday*"})
    status, body = await crm_post(
        client, {"type": "edit", "conversation": conv, "id": "out-e2", "reply_to": "out-e", "text": "Ship **Tuesday**"}
    )
    assert status == 200, body
    (edit,) = fake.edits
    assert f"{edit['chat_id']}:{edit['message_id']}" == sent["id"]
    assert edit["text"] == "Ship Tuesday" and edit["entities"] == [{"type": "bold", "offset": 5, "length": 7}]
    status, _ = await crm_post(client, {"type": "delete", "conversation": conv, "id": "out-e3", "reply_to": "out-e"})
    assert status == 200 and fake.edits[-1]["deleted"] is True


def test_limits_per_chat_type() -> None:
    private = Address("tg", "123", handle='{"chat_type":"private"}')
    group = Address("tg", "-100123", handle='{"chat_type":"supergroup"}')
    conn = object.__new__(TelegramConnector)
    assert tuple(conn.limits(private)) == (PRIVATE_LIMIT, BOT_LIMIT)
    assert tuple(conn.limits(group)) == (GROUP_LIMIT, BOT_LIMIT)
    assert tuple(conn.limits(Address("tg", "-42"))) == (GROUP_LIMIT, BOT_LIMIT)
    assert PRIVATE_LIMIT.rate / PRIVATE_LIMIT.per == 1 and BOT_LIMIT.rate / BOT_LIMIT.per == 30
    assert GROUP_LIMIT.rate / GROUP_LIMIT.per * 60 == 20


def _network(cause: Exception, cls: type[NetworkError] = NetworkError) -> NetworkError:
    try:
        try:
            raise cause
        except Exception as exc:
            raise cls("boom") from exc
    except NetworkError as err:
        return err


def test_error_mapping() -> None:
    throttled = delivery_error(RetryAfter(7))
    assert throttled.retryable and throttled.retry_after == 7 and throttled.scope == "chat"
    blocked = delivery_error(Forbidden("Forbidden: bot was blocked by the user"))
    assert (blocked.reason, blocked.retryable, blocked.unreachable) == ("recipient_unreachable", False, True)
    assert delivery_error(BadRequest("x")).reason == "platform_rejected"
    refused = delivery_error(_network(NotSent("refused")))
    assert refused.retryable and refused.reason == "platform_unreachable"
    timeout = delivery_error(_network(TimeoutError("slow"), TimedOut))
    assert (timeout.reason, timeout.retryable) == ("platform_timeout", False)
    assert delivery_error(NetworkError("Internal Server Error (500)")).retryable is False


async def test_connection_refused_is_retryable(start_relay: RelayFactory, crm_sink: Sink) -> None:
    _, relay = await start_relay(to_crm("http://127.0.0.1:9", crm_sink[1]))
    assert relay.started["tg"] is False
    message = Message(kind=Kind.TEXT, id="x", origin="crm", conversation=Address("tg", "123"), text=RichText.of("hi"))
    with pytest.raises(DeliveryError) as err:
        await relay.connectors["tg"].send(message)
    assert err.value.retryable and err.value.reason == "platform_unreachable"


async def test_a_group_upgraded_to_a_supergroup_gets_the_answer_at_its_new_id(
    start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink
) -> None:
    fake, api = fake_tg
    sink, url = crm_sink
    client, _ = await start_relay(to_crm(api, url, tg={"accept_groups": True}))
    group = payload("group_text")["message"] | {"chat": {"id": -4242, "title": "Kunden", "type": "group"}}
    conv = await customer_wrote(client, sink, "group_text", message=group)
    moved = {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: group chat was upgraded to a supergroup chat",
        "parameters": {"migrate_to_chat_id": -1009998887776},
    }
    fake.scripted["sendMessage"].append((400, moved))
    status, body = await crm_post(client, {"conversation": conv, "id": "out-moved", "text": "Antwort"})
    assert status == 200 and body["status"] == "delivered", body
    (sent,) = fake.sent
    assert sent["chat_id"] == -1009998887776 and sent["text"] == "Antwort"
    assert [int(p["chat_id"]) for m, p in fake.calls if m == "sendMessage"] == [-4242, -1009998887776]


async def test_a_forum_topic_message_is_answered_in_its_topic(
    start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink
) -> None:
    fake, api = fake_tg
    sink, url = crm_sink
    client, _ = await start_relay(to_crm(api, url, tg={"accept_groups": True}))
    topic = payload("group_text")["message"] | {
        "is_topic_message": True,
        "message_thread_id": 31,
        "chat": {"id": -1001234567890, "title": "Support", "type": "supergroup", "is_forum": True},
    }
    conv = await customer_wrote(client, sink, "group_text", message=topic)
    status, body = await crm_post(client, {"conversation": conv, "id": "out-topic", "text": "Im Thema"})
    assert status == 200 and body["status"] == "delivered", body
    (sent,) = fake.sent
    assert (sent["chat_id"], sent["message_thread_id"], sent["text"]) == (-1001234567890, 31, "Im Thema")
