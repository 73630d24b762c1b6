"""The webhook CRM contract both ways: signing, replay window, forgery, bad input."""

from __future__ import annotations

import json
import time
from collections import deque
from typing import Any, cast

from connectors.webchat import WebchatConnector
from relay.http import sign
from tests.conftest import RelayFactory, chat_token, webhook_workspace
from tests.support.crm_sink import SINK_SECRET


def signed(body: dict[str, Any], secret: str = SINK_SECRET, t: int | None = None) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, {"X-Relay-Signature": sign(secret.encode(), raw, t), "Content-Type": "application/json"}


async def _conversation(client: Any, sink: Any) -> tuple[str, dict[str, str]]:
    chat = await chat_token(client)
    resp = await client.post("/hooks/webchat/api/messages", json={"id": "a1", "text": "Hello **there**"}, headers=chat)
    assert resp.status == 200, await resp.text()
    return sink.messages()[0]["conversation"], chat


async def test_relay_to_crm_post_is_signed_and_complete(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(webhook_workspace(url))
    await _conversation(client, sink)
    body = sink.messages()[0]
    assert body["type"] == "message"
    assert body["message"]["text"] == "Hello **there**"
    assert body["message"]["markdown"] == "Hello \\*\\*there\\*\\*"
    assert body["message"]["id"].endswith(":a1")
    assert body["sender"]["id"]
    assert body["channel"] == "webchat"
    assert sink.bad_signatures == 0


async def test_same_chat_yields_same_conversation(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(webhook_workspace(url))
    chat = await chat_token(client)
    for i in range(2):
        await client.post("/hooks/webchat/api/messages", json={"id": f"m{i}", "text": "x"}, headers=chat)
    assert sink.messages()[0]["conversation"] == sink.messages()[1]["conversation"]


async def test_crm_answer_reaches_the_customer(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(webhook_workspace(url))
    conversation, chat = await _conversation(client, sink)
    raw, headers = signed({"conversation": conversation, "id": "crm-msg-1", "text": "We **shipped** it"})
    resp = await client.post("/hooks/crm", data=raw, headers=headers)
    assert resp.status == 200, await resp.text()
    events = await (await client.get("/hooks/webchat/api/events?since=0&wait=0", headers=chat)).json()
    assert events["items"][0]["html"] == "We <b>shipped</b> it"


async def test_repeated_crm_webhook_is_delivered_once(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(webhook_workspace(url))
    conversation, chat = await _conversation(client, sink)
    raw, headers = signed({"conversation": conversation, "id": "crm-msg-2", "text": "once"})
    for _ in range(3):
        assert (await client.post("/hooks/crm", data=raw, headers=headers)).status == 200
    events = await (await client.get("/hooks/webchat/api/events?since=0&wait=0", headers=chat)).json()
    assert len(events["items"]) == 1


async def test_bad_signatures_are_refused_and_nothing_is_sent(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(webhook_workspace(url))
    conversation, chat = await _conversation(client, sink)
    body = {"conversation": conversation, "id": "evil", "text": "pay here"}
    raw, good = signed(body)
    cases = {
        "missing": {"Content-Type": "application/json"},
        "wrong secret": signed(body, "another-secret-0123456789")[1],
        "stale": signed(body, t=int(time.time()) - 301)[1],
        "future": signed(body, t=int(time.time()) + 301)[1],
        "malformed": {"X-Relay-Signature": "v1=abc"},
    }
    for name, headers in cases.items():
        resp = await client.post("/hooks/crm", data=raw, headers=headers)
        assert resp.status == 401, name
        assert "signature" in (await resp.json())["error"], name
    tampered = raw.replace(b"pay here", b"pay there")
    assert (await client.post("/hooks/crm", data=tampered, headers=good)).status == 401
    events = await (await client.get("/hooks/webchat/api/events?since=0&wait=0", headers=chat)).json()
    assert events["items"] == []


async def test_forged_conversation_is_refused(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(webhook_workspace(url))
    conversation, _ = await _conversation(client, sink)
    prefix, kid, blob = conversation.split(".", 2)
    flipped = blob[:-2] + ("A" if blob[-2] != "A" else "B") + blob[-1]
    for forged in (f"{prefix}.{kid}.{flipped}", "c1.k1.AAAA", "not-a-reference", f"{prefix}.k9.{blob}"):
        raw, headers = signed({"conversation": forged, "id": "x1", "text": "hi"})
        resp = await client.post("/hooks/crm", data=raw, headers=headers)
        assert resp.status == 403, forged
        assert "conversation reference" in (await resp.json())["error"]


async def test_bad_bodies_get_clear_4xx(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(webhook_workspace(url))
    conversation, _ = await _conversation(client, sink)
    for body, status, word in (
        (b"{not json", 400, "JSON"),
        (json.dumps({"id": "x"}).encode(), 400, "conversation"),
        (json.dumps({"conversation": conversation, "id": "x", "text": ""}).encode(), 400, "text"),
        (json.dumps([1, 2]).encode(), 400, "body"),
    ):
        resp = await client.post(
            "/hooks/crm", data=body, headers={"X-Relay-Signature": sign(SINK_SECRET.encode(), body)}
        )
        assert resp.status == status, body
        assert word in (await resp.json())["error"]


async def test_attachment_urls_outside_the_allowlist_are_refused(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    client, relay = await start_relay(webhook_workspace(url))
    conversation, chat = await _conversation(client, sink)
    raw, headers = signed(
        {
            "conversation": conversation,
            "id": "f1",
            "text": "file",
            "attachments": [{"url": "http://169.254.169.254/latest/meta-data", "name": "x"}],
        }
    )
    resp = await client.post("/hooks/crm", data=raw, headers=headers)
    assert resp.status == 422
    assert "allowlist" in (await resp.json())["error"]
    assert (
        cast(WebchatConnector, relay.connectors["webchat"]).visitors.held[chat["X-Webchat-Token"].split(".")[0]].items
        == deque()
    )
