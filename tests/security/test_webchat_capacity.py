"""Web chat visitors cannot be evicted by strangers: free sessions hold nothing, unread replies are never
dropped, new visitors are shed instead, and session creation is rate-limited per address."""

from __future__ import annotations

import json
from typing import Any

from relay.http import sign
from relay.throttle import Throttle, client_key
from tests.conftest import RelayFactory, chat_token, webhook_workspace
from tests.support.crm_sink import SINK_SECRET


def small_workspace(url: str, **webchat: Any) -> dict[str, Any]:
    raw = webhook_workspace(url)
    raw["connectors"]["webchat"].update(webchat)
    return raw


async def write(client: Any, chat: dict[str, str], mid: str) -> Any:
    """Post a customer message."""
    return await client.post("/hooks/webchat/api/messages", json={"id": mid, "text": "hello"}, headers=chat)


async def conversation_of(client: Any, sink: Any, chat: dict[str, str], mid: str) -> str:
    """Post a customer message; the conversation reference the CRM received."""
    resp = await write(client, chat, mid)
    assert resp.status == 200, await resp.text()
    found: str = sink.messages()[-1]["conversation"]
    return found


async def crm_reply(client: Any, conversation: str, mid: str) -> Any:
    raw = json.dumps({"conversation": conversation, "id": mid, "text": "answer " + mid}).encode()
    headers = {"X-Relay-Signature": sign(SINK_SECRET.encode(), raw), "Content-Type": "application/json"}
    return await client.post("/hooks/crm", data=raw, headers=headers)


async def events(client: Any, chat: dict[str, str], since: int = 0) -> dict[str, Any]:
    resp = await client.get(f"/hooks/webchat/api/events?since={since}&wait=0", headers=chat)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def test_sessions_and_polls_hold_no_visitor_state(start_relay: RelayFactory, crm_sink: Any) -> None:
    _sink, url = crm_sink
    client, relay = await start_relay(small_workspace(url))
    for _ in range(5):
        chat = await chat_token(client)
        assert await events(client, chat) == {"seq": 0, "items": []}
    assert relay.connectors["webchat"].visitors.held == {}  # type: ignore[attr-defined]


async def test_visitor_with_unread_reply_is_never_evicted(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(small_workspace(url, max_visitors=2))
    first, second, third = [await chat_token(client) for _ in range(3)]
    for chat, mid in ((first, "a"), (second, "b")):
        conversation = await conversation_of(client, sink, chat, mid)
        assert (await crm_reply(client, conversation, "r-" + mid)).status == 200
    shed = await write(client, third, "c")
    assert shed.status == 503
    assert int(shed.headers["Retry-After"]) >= 1
    assert "full" in (await shed.json())["error"]
    assert [i["html"] for i in (await events(client, first))["items"]] == ["answer r-a"]

    await events(client, first, since=1)
    assert (await write(client, third, "c")).status == 200
    assert [i["html"] for i in (await events(client, second))["items"]] == ["answer r-b"]


async def test_crm_reply_that_cannot_be_held_is_not_reported_delivered(
    start_relay: RelayFactory, crm_sink: Any
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(small_workspace(url, max_visitors=1))
    early, late = await chat_token(client), await chat_token(client)
    early_conversation = await conversation_of(client, sink, early, "e")
    late_conversation = await conversation_of(client, sink, late, "l")
    assert (await crm_reply(client, late_conversation, "r1")).status == 200

    refused = await crm_reply(client, early_conversation, "r2")
    assert refused.status == 503
    body = await refused.json()
    assert body["status"] == "retry" and body["reason"] == "channel_full"
    assert "Retry-After" in refused.headers
    assert [i["html"] for i in (await events(client, late))["items"]] == ["answer r1"]

    await events(client, late, since=1)
    assert (await crm_reply(client, early_conversation, "r2")).status == 200
    assert [i["html"] for i in (await events(client, early))["items"]] == ["answer r2"]


async def test_unread_replies_beyond_max_pending_are_refused_not_dropped(
    start_relay: RelayFactory, crm_sink: Any
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(small_workspace(url, max_pending=2))
    chat = await chat_token(client)
    conversation = await conversation_of(client, sink, chat, "m")
    assert [(await crm_reply(client, conversation, f"r{i}")).status for i in range(2)] == [200, 200]
    refused = await crm_reply(client, conversation, "r2")
    assert refused.status == 503
    assert (await refused.json())["reason"] == "recipient_backlog_full"
    assert [i["html"] for i in (await events(client, chat))["items"]] == ["answer r0", "answer r1"]


async def test_session_creation_is_rate_limited_per_address(start_relay: RelayFactory, crm_sink: Any) -> None:
    _sink, url = crm_sink
    client, _ = await start_relay(small_workspace(url, session_burst=3, sessions_per_minute=6))
    statuses = [(await client.post("/hooks/webchat/api/session")).status for _ in range(3)]
    assert statuses == [200, 200, 200]
    limited = await client.post("/hooks/webchat/api/session")
    assert limited.status == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 10
    assert "too many new chat sessions" in (await limited.json())["error"]


def test_session_buckets_are_bounded_and_refill() -> None:
    now = [0.0]
    throttle = Throttle(rate=1.0, burst=2, max_keys=3, clock=lambda: now[0])
    assert [throttle.take("a") for _ in range(3)] == [0.0, 0.0, 1.0]
    now[0] = 1.0
    assert throttle.take("a") == 0.0
    for key in ("b", "c", "d", "e"):
        throttle.take(key)
    assert len(throttle.buckets) == 3 and "a" not in throttle.buckets
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff") == "2001:db8::/64"
    assert client_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert client_key(None) == "?"
