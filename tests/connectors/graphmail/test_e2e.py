"""The Graph variant through the same paces as IMAP, against the Graph fake over TLS: customers' mail reaches
the CRM once with clean text, answers go out threaded, noise stays out, restarts and kills lose nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bench.reliability.relays import RelayProc, free_port
from relay.app import Relay
from tests.conftest import RelayFactory, workspace
from tests.connectors.email.helpers import mail, until
from tests.connectors.email.test_peer_e2e import PDF, QUOTED, answer
from tests.connectors.graphmail.fake import CLIENT_STATE, FakeGraph
from tests.connectors.graphmail.fake_mailbox import MAILBOX
from tests.support.crm_sink import SINK_SECRET, CrmSink

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def graph(aiohttp_server: Any) -> FakeGraph:
    fake = FakeGraph()
    await aiohttp_server(fake.app())
    return fake


def graph_workspace(fake: FakeGraph, crm_url: str, port: int, **extra: Any) -> dict[str, Any]:
    crm = {"type": "webhook", "url": crm_url, "secret": SINK_SECRET}
    raw = workspace({"gm": fake.config(**extra), "crm": crm}, [{"from": ["gm"], "to": "crm"}])
    raw["server"] = {"port": port, "public_url": f"http://127.0.0.1:{port}"}
    return raw


async def start(
    fake: FakeGraph, crm_url: str, start_relay: RelayFactory, **extra: Any
) -> tuple[TestClient[Any, Any], Relay]:
    port = free_port()
    client, relay = await start_relay(graph_workspace(fake, crm_url, port, **extra), port=port)
    await until(lambda: fake.subscriptions, timeout=15)
    return client, relay


def to_support(msg: EmailMessage) -> bytes:
    msg.replace_header("To", MAILBOX)
    return bytes(msg)


async def test_customer_mail_reaches_the_crm_once_with_clean_text(
    graph: FakeGraph, crm_sink: tuple[CrmSink, str], start_relay: RelayFactory
) -> None:
    sink, url = crm_sink
    client, _ = await start(graph, url, start_relay)
    [sub] = graph.subscriptions.values()
    assert graph.validations == 2, "both the notification and the lifecycle URL passed the handshake"
    assert sub.body["clientState"] == CLIENT_STATE and sub.body["changeType"] == "created"
    first = mail("Hello, where is my order?")
    html_only = mail(None, subject="Invoice", html="<p>Please send the <b>invoice</b>.</p><script>x()</script>")
    with_file = mail("The contract is attached.", subject="Contract", files=(("contract.pdf", "application/pdf", PDF),))
    reply = mail(QUOTED, subject="Re: Order 1042", headers={"In-Reply-To": first["Message-ID"]})
    reply["References"] = first["Message-ID"]
    for msg in (first, html_only, with_file, reply):
        await graph.deliver(to_support(msg))
    await until(lambda: len(sink.messages()) == 4)
    await asyncio.sleep(1.0)
    got = {m["message"]["id"]: m for m in sink.messages()}
    assert len(sink.messages()) == 4
    one = got[first["Message-ID"].strip("<>")]
    assert one["message"]["text"] == "Order 1042\n\nHello, where is my order?" and one["sender"]["email"]
    assert got[html_only["Message-ID"].strip("<>")]["message"]["text"] == "Invoice\n\nPlease send the invoice."
    follow = got[reply["Message-ID"].strip("<>")]
    assert follow["message"]["text"] == "Yes, it is order 1042, thank you!"
    assert follow["conversation"] == one["conversation"]
    [file] = got[with_file["Message-ID"].strip("<>")]["message"]["attachments"]
    resp = await client.get("/media/" + file["url"].split("/media/", 1)[1])
    assert resp.status == 200 and await resp.read() == PDF
    assert graph.in_folder("inbox") == [] and len(graph.in_folder(graph.folders["Relayed"])) == 4
    assert all(200 <= s < 300 for s in graph.notified)


async def test_agent_answer_is_sent_threaded_and_not_read_back(
    graph: FakeGraph, crm_sink: tuple[CrmSink, str], start_relay: RelayFactory
) -> None:
    sink, url = crm_sink
    client, _ = await start(graph, url, start_relay)
    first = mail("Hello, where is my order?")
    await graph.deliver(to_support(first))
    await until(lambda: len(sink.messages()) == 1)
    conversation = sink.messages()[0]["conversation"]
    assert await answer(client, conversation, "It ships **today**.", reply_to="crm-1") == 200
    await until(lambda: graph.sent)
    sent = message_from_bytes(graph.sent[0], policy=policy.default)
    assert sent["In-Reply-To"] == first["Message-ID"] and first["Message-ID"] in sent["References"]
    assert sent["Subject"] == "Re: Order 1042" and sent["To"] == "customer@example.org"
    html = sent.get_body(("html",))
    assert html is not None and "<b>today</b>" in html.get_content()
    await graph.deliver(graph.sent[0])
    follow = mail("Thanks!", subject="Re: Order 1042", headers={"In-Reply-To": sent["Message-ID"]})
    follow["References"] = f"{first['Message-ID']} {sent['Message-ID']}"
    await graph.deliver(to_support(follow))
    await until(lambda: len(sink.messages()) == 2)
    await asyncio.sleep(1.0)
    assert len(sink.messages()) == 2 and sink.messages()[1]["conversation"] == conversation


async def test_auto_replies_and_bounces_are_not_customer_messages(
    graph: FakeGraph, crm_sink: tuple[CrmSink, str], start_relay: RelayFactory
) -> None:
    sink, url = crm_sink
    client, relay = await start(graph, url, start_relay)
    away = mail("I am out of the office.", subject="Automatic reply: Order 1042")
    away["Auto-Submitted"] = "auto-replied"
    gone = mail("Write to me here.", subject="Question", sender="nobody@bounce.invalid")
    for msg in (away, gone):
        await graph.deliver(to_support(msg))
    await until(lambda: len(sink.messages()) == 1)
    assert await answer(client, sink.messages()[0]["conversation"], "Our answer.", mid="agent-9") == 200
    await until(lambda: len(sink.messages("status")) == 1)
    [status] = sink.messages("status")
    assert status["message"]["status"] == "failed" and status["message"]["reply_to"] == "agent-9"
    assert relay.metrics.value("relay_mail_skipped_total", connector="gm", why="auto_reply") == 1
    assert len(sink.messages()) == 1


async def test_restart_lifecycle_and_forgeries(
    graph: FakeGraph, crm_sink: tuple[CrmSink, str], start_relay: RelayFactory
) -> None:
    sink, url = crm_sink
    port = free_port()
    raw = graph_workspace(graph, url, port)
    client, _ = await start_relay(raw, port=port)
    await until(lambda: graph.subscriptions)
    [before] = graph.subscriptions
    await client.close()
    sent = [mail(f"Question {i}", subject=f"Q{i}") for i in range(3)]
    for msg in sent:
        await graph.deliver(to_support(msg))
    await asyncio.sleep(0.5)
    client, _ = await start_relay(raw, port=port)
    await until(lambda: len(sink.messages()) == 3)
    assert list(graph.subscriptions) == [before], "the subscription is found again after a restart, not duplicated"
    assert await graph.lifecycle("subscriptionRemoved") == 200
    await until(lambda: graph.subscriptions and list(graph.subscriptions) != [before])
    forged = json.dumps({"value": [{"clientState": "guess-" + CLIENT_STATE, "changeType": "created"}]})
    assert (await client.post("/hooks/gm/notify", data=forged)).status == 403
    assert (await client.post("/hooks/gm/notify?validationToken=abc")).status == 403, "no handshake outside ours"
    assert (await client.post("/hooks/gm/notify", data=b"")).status == 401
    assert sorted(m["message"]["id"] for m in sink.messages()) == sorted(m["Message-ID"].strip("<>") for m in sent)


async def test_throttled_graph_is_waited_for(
    graph: FakeGraph, crm_sink: tuple[CrmSink, str], start_relay: RelayFactory
) -> None:
    sink, url = crm_sink
    client, _ = await start(graph, url, start_relay)
    await graph.deliver(to_support(mail("Hello")))
    await until(lambda: len(sink.messages()) == 1)
    graph.max_concurrent = 1
    graph.fail("/v1.0/users/*/sendMail", status=0, delay=0.3, times=None)
    conversation = sink.messages()[0]["conversation"]
    statuses = await asyncio.gather(*(answer(client, conversation, f"part {i}", mid=f"a{i}") for i in range(3)))
    assert statuses == [200, 200, 200]
    assert graph.throttled > 0 and len(graph.sent) == 3


async def test_sigkill_mid_delivery_loses_and_duplicates_nothing(
    graph: FakeGraph, crm_sink: tuple[CrmSink, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink, url = crm_sink
    sink.delay = 0.6
    monkeypatch.setenv("SSL_CERT_FILE", os.environ["REQUESTS_CA_BUNDLE"])
    port = free_port()
    config = {**graph_workspace(graph, url, port, ack_deadline=5.0), "logging": {"level": "info", "format": "json"}}
    config["server"]["host"] = "127.0.0.1"
    sent = [mail(f"Question {i}", subject=f"Q{i}") for i in range(5)]
    graph.deliver_notifications = False
    for msg in sent:
        await graph.deliver(to_support(msg))
    graph.deliver_notifications = True
    first, second = RelayProc("a", config, tmp_path), RelayProc("b", config, tmp_path)
    try:
        first.start()
        await until(lambda: sink.calls >= 2, timeout=40)
        first.signal(signal.SIGKILL)
        assert await first.wait(10) is not None
        second.start()
        async with aiohttp.ClientSession() as session:
            await second.ready(session)
        await until(
            lambda: {m["message"]["id"] for m in sink.messages()} == {m["Message-ID"].strip("<>") for m in sent}, 40
        )
    finally:
        for proc in (first, second):
            if proc.popen is not None:
                await proc.stop()
    events: dict[str, set[str]] = {}
    for item, event in zip(sink.messages(), sink.event_ids, strict=True):
        events.setdefault(item["message"]["id"], set()).add(event)
    assert all(len(found) == 1 for found in events.values()), "a repeat carries the same event id"
    assert graph.in_folder("inbox") == []
