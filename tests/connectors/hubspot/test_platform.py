"""Tokens, limits and redeliveries against the HubSpot fake: refresh before expiry, one refresh on a 401,
a revoked install said clearly, 429s waited out, webhooks delivered once, the relay's own messages ignored."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from connectors.hubspot.connector import HubSpotConnector
from relay.connector import Check
from tests.conftest import RelayFactory
from tests.connectors.hubspot.helpers import start
from tests.connectors.hubspot.test_e2e import replies, say

PUBLISH = "/conversations/v3/custom-channels/*/messages"


async def test_access_token_is_refreshed_before_it_expires(aiohttp_server: Any, start_relay: RelayFactory) -> None:
    env = await start(aiohttp_server, start_relay)
    env.fake.expires_in = 2
    conn = env.relay.connectors["hubspot"]
    assert isinstance(conn, HubSpotConnector)
    conn.tokens.expire(await conn.tokens.get())
    before = env.fake.grants["refresh_token"]
    _, headers = await say(env, "one")
    await asyncio.sleep(1.2)
    await say(env, "two", headers, "m2")
    assert env.fake.grants["refresh_token"] == before + 2
    assert len(env.fake.requests(PUBLISH, "POST")) == 2, "no publish was refused for an expired token"


async def test_a_401_refreshes_the_token_once_and_sends_again(aiohttp_server: Any, start_relay: RelayFactory) -> None:
    env = await start(aiohttp_server, start_relay)
    before = env.fake.grants["refresh_token"]
    env.fake.access.clear()
    status, _ = await say(env, "after the token was dropped")
    assert status == 200
    assert env.fake.grants["refresh_token"] == before + 1
    assert len(env.fake.requests(PUBLISH, "POST")) == 2
    assert [m["text"] for m in env.published()] == ["after the token was dropped"]


async def test_a_revoked_install_shows_in_check_and_readyz(aiohttp_server: Any, start_relay: RelayFactory) -> None:
    env = await start(aiohttp_server, start_relay)
    assert (await env.client.get("/readyz")).status == 200
    env.fake.revoke()
    status, headers = await say(env, "nobody will read this")
    assert status == 200
    for _ in range(100):
        if "could not be delivered" in " ".join(await replies(env, headers)):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the customer got no notice")
    ready = await env.client.get("/readyz")
    body = await ready.json()
    assert ready.status == 503 and "refresh token" in body["problems"]["hubspot"]
    checks = await env.relay.connectors["hubspot"].check()
    assert (
        checks[0] == Check("OAuth token refresh", False, checks[0].detail)
        and "relay hubspot connect" in checks[0].detail
    )
    assert env.published() == []


async def test_429_is_waited_out_with_hubspots_interval(aiohttp_server: Any, start_relay: RelayFactory) -> None:
    env = await start(aiohttp_server, start_relay)
    env.fake.limit, env.fake.window = 1, 1.0
    _, headers = await say(env, "first")
    status, _ = await say(env, "second", headers, "m2")
    assert status == 200
    assert env.fake.throttled >= 1
    posts = env.fake.requests(PUBLISH, "POST")
    assert [m["text"] for m in env.published()] == ["first", "second"] and len(posts) >= 3


async def test_a_redelivered_webhook_reaches_the_customer_once(aiohttp_server: Any, start_relay: RelayFactory) -> None:
    env = await start(aiohttp_server, start_relay)
    _, headers = await say(env, "Hello")
    customer = env.published()[0]
    env.fake.fail("/conversations/v3/custom-channels/*/messages/*", 503, {"status": "error"}, method="PATCH")
    reply, statuses = await env.fake.agent_reply(customer, "Shipped today")
    assert statuses == [503, 200], "SENT could not be recorded: HubSpot was asked to redeliver"
    event = env.fake.event(reply)
    assert await env.fake.post(env.channel, json.dumps(event).encode()) == 200
    assert await replies(env, headers) == ["Shipped today"]
    assert env.fake.statuses == [(reply["id"], "SENT", "")]


async def test_messages_the_relay_published_are_never_echoed(aiohttp_server: Any, start_relay: RelayFactory) -> None:
    env = await start(aiohttp_server, start_relay)
    _, headers = await say(env, "Hello")
    incoming = env.published()[0]
    echo = env.fake.event(incoming)
    assert await env.fake.post(env.channel, json.dumps(echo).encode()) == 200
    mirrored = env.fake.event(incoming | {"id": "f00d", "direction": "OUTGOING"})
    assert await env.fake.post(env.channel, json.dumps(mirrored).encode()) == 200
    other = env.fake.event(incoming | {"id": "beef", "direction": "OUTGOING", "channelId": "999"})
    assert await env.fake.post(env.channel, json.dumps(other | {"channelId": env.channel}).encode()) == 200
    assert await replies(env, headers) == []
    assert env.fake.statuses == []
