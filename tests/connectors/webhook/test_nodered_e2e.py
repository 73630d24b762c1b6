"""A real Node-RED as the CRM, its flow built from the documented contract and the docs' own snippets."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from relay.http import sign
from tests.conftest import RelayFactory, chat_token, webhook_workspace
from tests.peers.bottlecrm import PeerUnavailable
from tests.peers.nodered import NodeRed, install

pytestmark = [pytest.mark.peer, pytest.mark.timeout(120)]
SECRET = "nodered-secret-0123456789abcdef"
DOC = Path("docs/webhook-contract.md").read_text()

CHECK = """
if (!verify(env.get("RELAY_SECRET"), msg.req.headers["x-relay-signature"], msg.payload)) {
  msg.statusCode = 401; msg.payload = {error: "bad signature"}; return [null, msg];
}
const event = JSON.parse(msg.payload.toString("utf8"));
const scripted = /^status (\\d+)$/.exec(event.message.text);
if (scripted) {
  msg.statusCode = Number(scripted[1]); msg.headers = {"Retry-After": "1"}; msg.payload = {error: "scripted"};
  return [null, msg];
}
msg.statusCode = 200; msg.payload = {id: "nr-" + event.message.id};
return [event.type === "message" ? {event: event} : null, msg];
"""

ANSWER = """
const e = msg.event, secret = env.get("RELAY_SECRET");
const answers = [
  {conversation: e.conversation, id: "plain-" + e.message.id, text: e.message.text, format: "plain"},
  {conversation: e.conversation, id: "md-" + e.message.id, text: e.message.markdown},
  {type: "edit", conversation: e.conversation, id: "edit-" + e.message.id, reply_to: "plain-" + e.message.id,
   text: "edited", format: "plain"},
];
return [answers.map(a => {
  const body = JSON.stringify(a);
  return {payload: body, headers: {"Content-Type": "application/json", "X-Relay-Signature": sign(secret, body)}};
})];
"""


def _docs_js() -> str:
    found = re.search(r"### Verifying in Node.js.*?```js\n(.*?)```", DOC, re.DOTALL)
    assert found
    return "\n".join(line for line in found.group(1).splitlines() if "require(" not in line)


def flows(relay_url: str) -> list[dict[str, Any]]:
    """The flow the Node-RED recipe in the contract describes, answering every customer message twice."""
    libs = [{"var": "crypto", "module": "crypto"}]
    return [
        {"id": "t1", "type": "tab", "label": "relay"},
        {"id": "in", "type": "http in", "z": "t1", "url": "/relay", "method": "post", "upload": False,
         "skipBodyParsing": True, "wires": [["check"]]},
        {"id": "check", "type": "function", "z": "t1", "func": _docs_js() + CHECK, "outputs": 2, "libs": libs,
         "wires": [["answer"], ["resp"]]},
        {"id": "resp", "type": "http response", "z": "t1", "wires": []},
        {"id": "answer", "type": "function", "z": "t1", "func": _docs_js() + ANSWER, "outputs": 1, "libs": libs,
         "wires": [["post"]]},
        {"id": "post", "type": "http request", "z": "t1", "method": "POST", "ret": "txt", "paytoqs": "ignore",
         "url": f"{relay_url}/hooks/crm", "wires": [[]]},
    ]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def node_red(tmp_path: Path) -> AsyncIterator[list[NodeRed]]:
    try:
        await asyncio.to_thread(install)
    except PeerUnavailable as exc:
        pytest.skip(str(exc))
    started: list[NodeRed] = []
    yield started
    for peer in started:
        await peer.stop()


async def _up(peer: NodeRed) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.post(f"{peer.url}/relay", data=b"{}") as resp:
                    if resp.status == 401:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("Node-RED did not start")


async def _events(client: Any, chat: dict[str, str], count: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for _ in range(150):
        items = (await (await client.get("/hooks/webchat/api/events?since=0&wait=0", headers=chat)).json())["items"]
        if len(items) >= count:
            break
        await asyncio.sleep(0.1)
    return items


async def test_node_red_flow_from_the_docs(start_relay: RelayFactory, node_red: list[NodeRed], tmp_path: Path) -> None:
    port = _free_port()
    config = webhook_workspace(f"http://127.0.0.1:{port}/relay", secret=SECRET)
    config["connectors"]["webchat"]["ack_deadline"] = 2.0
    client, _ = await start_relay(config)
    peer = NodeRed(tmp_path, port, flows(str(client.make_url("")).rstrip("/")), {"RELAY_SECRET": SECRET})
    node_red.append(peer)
    await peer.start()
    await _up(peer)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        message = {
            "id": "ping-1",
            "text": "",
            "markdown": "",
            "attachments": [],
            "sent_at": "2026-01-01T00:00:00+00:00",
        }
        raw = json.dumps({"type": "ping", "conversation": "", "channel": "crm", "message": message}).encode()
        for header, status in ((sign(SECRET.encode(), raw), 200), (sign(b"wrong-secret-000000", raw), 401), ("", 401)):
            async with session.post(f"{peer.url}/relay", data=raw, headers={"X-Relay-Signature": header}) as resp:
                assert resp.status == status, header
        stale = sign(SECRET.encode(), raw, int(time.time()) - 400)
        async with session.post(f"{peer.url}/relay", data=raw, headers={"X-Relay-Signature": stale}) as resp:
            assert resp.status == 401

    chat = await chat_token(client)
    customer = "**hi** [click](https://x.example/a) <i>x</i> \\* _y_"
    resp = await client.post("/hooks/webchat/api/messages", json={"id": "a1", "text": customer}, headers=chat)
    assert resp.status == 200, await resp.text()
    items = await _events(client, chat, 3)
    expected = customer.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert [i["html"] for i in items[:2]] == [expected, expected], items
    assert len(items) == 3 and items[2]["html"].endswith("edited"), "the edit names the answer's own id"

    for code in ("500", "429", "503", "404"):
        resp = await client.post(
            "/hooks/webchat/api/messages", json={"id": f"s{code}", "text": f"status {code}"}, headers=chat
        )
        body = await resp.json()
        assert resp.status == 503 and body["status"] == "retry", (code, body)
    await asyncio.sleep(0.5)
    assert len(await _events(client, chat, 0)) == 3, "no failure notice: every scripted answer is retried, none final"
