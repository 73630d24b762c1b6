"""The sandbox loop through the HTTP API: webchat -> inbox -> webchat."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import RelayFactory, sandbox_workspace

INBOX_AUTH = {"Authorization": "Bearer inbox-test-key-123456"}


async def test_customer_message_reaches_inbox_and_answer_comes_back(start_relay: RelayFactory) -> None:
    client, _relay = await start_relay(sandbox_workspace())
    token = (await (await client.post("/hooks/webchat/api/session")).json())["token"]
    chat = {"X-Webchat-Token": token}
    resp = await client.post(
        "/hooks/webchat/api/messages", json={"id": "m1", "text": "Where is **my** order?"}, headers=chat
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] == "delivered"

    convs = (await (await client.get("/hooks/inbox/api/conversations", headers=INBOX_AUTH)).json())["conversations"]
    assert len(convs) == 1
    ref = convs[0]["conversation"]
    thread = await (await client.get(f"/hooks/inbox/api/conversations/{ref}", headers=INBOX_AUTH)).json()
    assert "Where is" in thread["messages"][0]["html"]

    resp = await client.post(
        f"/hooks/inbox/api/conversations/{ref}/messages", json={"text": "Shipped *today*"}, headers=INBOX_AUTH
    )
    assert resp.status == 200, await resp.text()
    events: dict[str, Any] = await (await client.get("/hooks/webchat/api/events?since=0", headers=chat)).json()
    assert events["items"][0]["html"] == "Shipped <i>today</i>"


async def test_redelivered_message_is_forwarded_once(start_relay: RelayFactory) -> None:
    client, _relay = await start_relay(sandbox_workspace())
    token = (await (await client.post("/hooks/webchat/api/session")).json())["token"]
    chat = {"X-Webchat-Token": token}
    results = await asyncio.gather(
        *[client.post("/hooks/webchat/api/messages", json={"id": "same", "text": "hi"}, headers=chat) for _ in range(5)]
    )
    assert [r.status for r in results] == [200] * 5
    convs = (await (await client.get("/hooks/inbox/api/conversations", headers=INBOX_AUTH)).json())["conversations"]
    thread = await (
        await client.get(f"/hooks/inbox/api/conversations/{convs[0]['conversation']}", headers=INBOX_AUTH)
    ).json()
    assert len(thread["messages"]) == 1


async def test_inbox_api_refuses_without_key(start_relay: RelayFactory) -> None:
    client, _ = await start_relay(sandbox_workspace())
    assert (await client.get("/hooks/inbox/api/conversations")).status == 401
    assert (await client.post("/hooks/webchat/api/messages", json={"id": "x", "text": "x"})).status == 401
