"""A real Node-RED as the CRM, its flow built from the documented contract and the docs' own snippets."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from relay.http import sign
from tests.conftest import RelayFactory, chat_token, webhook_workspace
from tests.connectors.telegram.conftest import fake_tg
from tests.connectors.telegram.fake_api import FakeTelegram
from tests.connectors.telegram.helpers import payload, tg_config
from tests.connectors.webhook.test_crm_files import LOOPBACK, TG
from tests.peers.common import PeerUnavailable
from tests.peers.nodered import NodeRed, install

pytestmark = [pytest.mark.peer, pytest.mark.timeout(120)]
__all__ = ["fake_tg"]
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
const file = {url: env.get("FILE_URL"), name: "invoice.pdf", mime: "application/pdf"};
const answers = e.message.text === "file please" ? [
  {conversation: e.conversation, id: "file-" + e.message.id, text: "invoice", format: "plain", attachments: [file]},
] : [
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

SERVE_FILE = """
msg.payload = Buffer.from(env.get("FILE_B64"), "base64");
msg.headers = {"Content-Type": "application/pdf"};
return msg;
"""
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 64


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
        {"id": "file-in", "type": "http in", "z": "t1", "url": "/files/invoice.pdf", "method": "get",
         "wires": [["file"]]},
        {"id": "file", "type": "function", "z": "t1", "func": SERVE_FILE, "outputs": 1, "wires": [["resp"]]},
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


async def test_node_red_flow_from_the_docs(
    start_relay: RelayFactory, node_red: list[NodeRed], tmp_path: Path, fake_tg: tuple[FakeTelegram, str]
) -> None:
    fake, api = fake_tg
    port = _free_port()
    config = webhook_workspace(f"http://127.0.0.1:{port}/relay", secret=SECRET) | LOOPBACK
    config["connectors"]["webchat"]["ack_deadline"] = 2.0
    config["connectors"]["tg"] = tg_config(api, ack_deadline=2.0)
    config["routes"][0]["from"].append("tg")
    client, _ = await start_relay(config)
    env = {
        "RELAY_SECRET": SECRET,
        "FILE_URL": f"http://127.0.0.1:{port}/files/invoice.pdf",
        "FILE_B64": base64.b64encode(PDF).decode(),
    }
    peer = NodeRed(tmp_path, port, flows(str(client.make_url("")).rstrip("/")), env)
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

    resp = await client.post("/hooks/webchat/api/messages", json={"id": "f1", "text": "file please"}, headers=chat)
    assert resp.status == 200, await resp.text()
    item = (await _events(client, chat, 4))[3]
    link = urlsplit(item["html"].split('href="', 1)[1].split('"', 1)[0])
    assert link.path.startswith("/media/m1.") and f":{port}" not in json.dumps(item), "a relay link, not the flow's URL"
    got = await client.get(link.path)
    assert got.status == 200 and await got.read() == PDF

    assert (await client.post("/hooks/tg/", json=_update(1, customer), headers=TG)).status == 200
    await _wait(lambda: len(fake.sent) >= 2 and len(fake.edits) >= 1)
    assert [(m["method"], m["text"], m.get("entities")) for m in fake.sent] == [("sendMessage", customer, None)] * 2
    (edit,) = fake.edits
    assert edit["text"] == "edited" and edit["message_id"] == fake.sent[0]["result"]["message_id"]

    for i, code in enumerate(("500", "429", "503", "404")):
        resp = await client.post("/hooks/tg/", json=_update(2 + i, f"status {code}"), headers=TG)
        assert resp.status == 503, (code, await resp.text())
    await asyncio.sleep(0.5)
    assert len(fake.sent) == 2, "no failure notice on Telegram either: Telegram redelivers"

    assert (await client.post("/hooks/tg/", json=_update(9, "file please"), headers=TG)).status == 200
    await _wait(lambda: len(fake.sent) >= 3)
    assert fake.sent[2]["method"] == "sendDocument" and fake.sent[2]["document"] == PDF
    assert f":{port}" not in json.dumps([r.path for r in fake.recorded]), "uploaded, the flow's URL not sent"


def _update(n: int, text: str) -> dict[str, Any]:
    """A Telegram text update from the same customer, the n-th."""
    update = payload("text")
    update["update_id"] += n
    update["message"] |= {"message_id": 100 + n, "text": text}
    update["message"].pop("entities", None)
    return update


async def _wait(done: Any) -> None:
    for _ in range(100):
        if done():
            return
        await asyncio.sleep(0.1)
