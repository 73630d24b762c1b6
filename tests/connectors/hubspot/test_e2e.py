"""Web chat -> relay -> HubSpot fake -> agent reply -> web chat, through the real connector, with faults."""

from __future__ import annotations

import json
import time
from typing import Any

from relay.model import Address
from tests.conftest import RelayFactory, chat_token
from tests.connectors.hubspot.helpers import PUBLIC, Env, start, until
from tests.connectors.hubspot.sender import v3_headers

MESSAGES = "/conversations/v3/custom-channels/*/messages"


async def say(
    env: Env, text: str, headers: dict[str, str] | None = None, msg_id: str = "m1"
) -> tuple[int, dict[str, str]]:
    """A web chat customer writes; (status, the visitor's headers)."""
    headers = headers or await chat_token(env.client)
    resp = await env.client.post(
        "/hooks/webchat/api/messages", json={"id": msg_id, "text": text, "name": "Ana"}, headers=headers
    )
    return resp.status, headers


async def replies(env: Env, headers: dict[str, str]) -> list[str]:
    data = await (await env.client.get("/hooks/webchat/api/events?since=0&wait=0", headers=headers)).json()
    return [str(item["html"]) for item in data["items"]]


async def test_customer_message_lands_in_its_thread_with_identifier_and_idempotency(
    aiohttp_server: Any, start_relay: RelayFactory
) -> None:
    env = await start(aiohttp_server, start_relay)
    status, headers = await say(env, "Where is my order?")
    assert status == 200
    status, _ = await say(env, "Order 42", headers, "m2")
    assert status == 200
    first, second = env.published()
    visitor = headers["X-Webchat-Token"].split(".")[0]
    assert first["text"] == "Where is my order?" and first["channelAccountId"] == env.accounts["webchat"]
    assert first["senders"] == [
        {"deliveryIdentifier": {"type": "CHANNEL_SPECIFIC_OPAQUE_ID", "value": visitor}, "name": "Ana"}
    ]
    assert first["conversationsThreadId"] == second["conversationsThreadId"]
    sealed = first["integrationThreadId"]
    assert env.relay.sealer.open(sealed) == Address("webchat", visitor)
    assert first["integrationIdempotencyId"] != second["integrationIdempotencyId"]
    assert env.fake.publishes[first["integrationIdempotencyId"]] == 1


async def test_killed_after_publishing_gives_one_message(aiohttp_server: Any, start_relay: RelayFactory) -> None:
    env = await start(aiohttp_server, start_relay, {"webchat": {"type": "webchat", "ack_deadline": 2.0}})
    env.fake.fail(MESSAGES, 502, {"status": "error"}, after=True, method="POST")
    status, headers = await say(env, "Only once, please")
    assert status == 200, "the core retried the idempotent publish within the deadline"
    env.fake.fail(MESSAGES, 502, {"status": "error"}, after=True, method="POST", times=None)
    status, _ = await say(env, "Second", headers, "m2")
    assert status == 503
    env.fake.rules.clear()
    status, _ = await say(env, "Second", headers, "m2")
    assert status == 200
    texts = [m["text"] for m in env.published()]
    assert texts == ["Only once, please", "Second"]
    for message in env.published():
        assert len(env.fake.stored(message["integrationIdempotencyId"])) == 1
        assert env.fake.publishes[message["integrationIdempotencyId"]] >= 2


async def test_agent_reply_reaches_the_customer_and_is_marked_sent(
    aiohttp_server: Any, start_relay: RelayFactory
) -> None:
    env = await start(aiohttp_server, start_relay)
    _, headers = await say(env, "Hello")
    customer = env.published()[0]
    reply, statuses = await env.fake.agent_reply(customer, "Hi Ana, your order shipped.")
    assert statuses == [200]
    assert await replies(env, headers) == ["Hi Ana, your order shipped."]
    assert env.fake.statuses == [(reply["id"], "SENT", "")]


async def test_forged_stale_and_replayed_webhooks(aiohttp_server: Any, start_relay: RelayFactory) -> None:
    env = await start(aiohttp_server, start_relay)
    _, headers = await say(env, "Hello")
    reply = env.fake.outgoing(env.published()[0], "Answer")
    body = json.dumps(env.fake.event(reply)).encode()
    url = f"{PUBLIC}/hooks/hubspot"
    forged = v3_headers("not-the-client-secret-0123456789", url, body)
    stale = v3_headers(env.fake.signing_secret, url, body, int(time.time() * 1000) - 6 * 60 * 1000)
    tampered = v3_headers(env.fake.signing_secret, url, body)
    other_url = v3_headers(env.fake.signing_secret, "https://elsewhere.example/hooks/hubspot", body)
    assert await env.fake.post(env.channel, body, forged) == 401
    assert await env.fake.post(env.channel, body, stale) == 401
    assert await env.fake.post(env.channel, body.replace(b"Answer", b"Pay me"), tampered) == 401
    assert await env.fake.post(env.channel, body, other_url) == 401
    assert await replies(env, headers) == []
    assert await env.fake.post(env.channel, body) == 200
    assert await env.fake.post(env.channel, body) == 200
    await until(lambda: len(env.fake.statuses) >= 1)
    assert await replies(env, headers) == ["Answer"]
    assert [s[1] for s in env.fake.statuses] == ["SENT"]
