"""Canaries both ways through the mail connectors: a customer's mail (text, name, phone, address, a file)
in, the agent's answer out, with DEBUG logs on. Nothing written by the relay, nothing in logs, metrics or
recent temp files; the mail servers' own storage is theirs and left out of the scan."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest

from tests.conftest import RelayFactory, workspace
from tests.connectors.email.helpers import CUSTOMER, email_config, mail, mailbox, submit, until
from tests.peers.mail import MailPeer, missing
from tests.privacy.common import CONNECTORS, STATS, email_of, phone_of, scan_files, scan_logs, secrets_of
from tests.support.audit import no_file_writes

INBOX_KEY = "privacy-inbox-key-0123456789"
INBOX = {"Authorization": f"Bearer {INBOX_KEY}"}


async def _inbox_thread(client: Any) -> tuple[str, dict[str, Any]]:
    convs = (await (await client.get("/hooks/inbox/api/conversations", headers=INBOX)).json())["conversations"]
    ref = convs[0]["conversation"]
    thread = await (await client.get(f"/hooks/inbox/api/conversations/{ref}", headers=INBOX)).json()
    return ref, thread


async def _has_conversation(client: Any) -> bool:
    resp = await client.get("/hooks/inbox/api/conversations", headers=INBOX)
    return bool((await resp.json())["conversations"])


@pytest.fixture
def mail_peer() -> Any:
    need = missing()
    if need:
        pytest.skip(f"mail peer needs Debian packages {' '.join(need)} (python -m tests.peers.mail install)")
    peer = MailPeer().start()
    try:
        yield peer
    finally:
        peer.stop()


@pytest.mark.peer
async def test_canaries_through_the_email_connector_leave_nothing(
    mail_peer: MailPeer, start_relay: RelayFactory, relay_logs: io.StringIO, canary: str
) -> None:
    raw = workspace(
        {"mail": email_config(mail_peer), "inbox": {"type": "inbox", "access_key": INBOX_KEY}},
        [{"from": ["mail"], "to": "inbox"}],
    )
    client, _ = await start_relay(raw)
    body = f"{canary} call {phone_of(canary)} mail {email_of(canary)}"
    msg = mail(body, subject=f"About {canary}", files=((f"{canary}.txt", "text/plain", canary.encode() * 3),))
    msg.replace_header("From", f"{canary} <{CUSTOMER}>")
    answer = f"answer {canary[::-1]}"
    started = time.time()
    with no_file_writes() as writes:
        await submit(mail_peer, msg)
        await until(lambda: _has_conversation(client))
        ref, thread = await _inbox_thread(client)
        assert canary in json.dumps(thread)
        [link] = [a["url"] for item in thread["messages"] for a in item.get("attachments", [])]
        resp = await client.get("/media/" + link.split("/media/", 1)[1])
        assert await resp.read() == canary.encode() * 3
        resp = await client.post(f"/hooks/inbox/api/conversations/{ref}/messages", json={"text": answer}, headers=INBOX)
        assert resp.status == 200, await resp.text()
        await until(lambda: mailbox(mail_peer))
        metrics = await (await client.get("/metrics")).text()
    STATS["file_writes"] += len(writes)
    assert writes == []
    [reply] = await mailbox(mail_peer)
    assert canary[::-1] in reply.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    needles = [*secrets_of(canary), canary[::-1], CUSTOMER]
    assert scan_logs(relay_logs.getvalue(), needles) == []
    assert [n for n in needles if n in metrics] == []
    assert scan_files(started, needles, exclude=[mail_peer.root]) == []
    CONNECTORS.update({"email", "inbox"})


async def test_canaries_through_the_graph_mail_connector_leave_nothing(
    start_relay: RelayFactory, aiohttp_server: Any, relay_logs: io.StringIO, canary: str
) -> None:
    from bench.reliability.relays import free_port
    from tests.connectors.graphmail.fake import FakeGraph
    from tests.connectors.graphmail.fake_mailbox import MAILBOX

    graph = FakeGraph()
    await aiohttp_server(graph.app())
    port = free_port()
    raw = workspace(
        {"gm": graph.config(), "inbox": {"type": "inbox", "access_key": INBOX_KEY}}, [{"from": ["gm"], "to": "inbox"}]
    )
    raw["server"] = {"port": port, "public_url": f"http://127.0.0.1:{port}"}
    client, _ = await start_relay(raw, port=port)
    await until(lambda: graph.subscriptions)
    msg = mail(f"{canary} call {phone_of(canary)} mail {email_of(canary)}", subject=f"About {canary}")
    msg.replace_header("From", f"{canary} <{CUSTOMER}>")
    msg.replace_header("To", MAILBOX)
    answer = f"answer {canary[::-1]}"
    started = time.time()
    with no_file_writes() as writes:
        await graph.deliver(bytes(msg))
        await until(lambda: _has_conversation(client))
        ref, thread = await _inbox_thread(client)
        assert canary in json.dumps(thread)
        resp = await client.post(f"/hooks/inbox/api/conversations/{ref}/messages", json={"text": answer}, headers=INBOX)
        assert resp.status == 200, await resp.text()
        await until(lambda: graph.sent)
        metrics = await (await client.get("/metrics")).text()
    STATS["file_writes"] += len(writes)
    assert writes == []
    assert canary[::-1].encode() in graph.sent[0]
    needles = [*secrets_of(canary), canary[::-1], CUSTOMER, *graph.tokens]
    assert scan_logs(relay_logs.getvalue(), needles) == []
    assert [n for n in needles if n in metrics] == []
    assert scan_files(started, needles) == []
    CONNECTORS.update({"graphmail", "inbox"})
