"""Canaries both ways through every messenger connector that has landed (platform fake -> relay -> inbox ->
agent reply -> platform fake), and through the Zendesk CRM connector (web chat -> SunCo fake -> agent reply
with a file -> web chat): no file written, nothing in DEBUG logs, metrics or recent /tmp files."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from bench.reliability.fakes import FakeBotApi
from bench.reliability.source import telegram_update
from tests.conftest import RelayFactory, workspace
from tests.privacy.common import CONNECTORS, STATS, email_of, phone_of, scan_files, scan_logs, secrets_of
from tests.support.audit import no_file_writes

INBOX_KEY = "privacy-inbox-key-0123456789"
INBOX = {"Authorization": f"Bearer {INBOX_KEY}"}


@dataclass
class Driver:
    """How to reach one messenger connector through its platform fake."""

    instance: str
    config: dict[str, Any]
    inbound: Callable[[Any, str], Awaitable[int]]
    sent: Callable[[Any], Awaitable[list[str]]]
    needles: list[str] = field(default_factory=list)


async def _telegram(server: Any) -> Driver:
    bot = FakeBotApi()
    base = str((await server(bot.app())).make_url("")).rstrip("/")
    from bench.reliability.fakes import BOT_SECRET, BOT_TOKEN

    cfg = {"type": "telegram", "token": BOT_TOKEN, "secret_token": BOT_SECRET, "api_base_url": f"{base}/bot"}

    async def inbound(client: Any, text: str) -> int:
        path, body, headers = telegram_update(1, 424242, text)()
        return int((await client.post(path, data=body, headers=headers)).status)

    return Driver("tg", cfg, inbound, _now(lambda: bot.sent))


async def _whatsapp(server: Any) -> Driver:
    from tests.connectors.whatsapp.fake_graph import FakeGraph
    from tests.connectors.whatsapp.helpers import CUSTOMER, signature, text_payload, wa_config

    graph = FakeGraph()
    graph.base = str((await server(graph.app())).make_url("")).rstrip("/")

    async def inbound(client: Any, text: str) -> int:
        raw = text_payload("wamid.PRIVACY1", text)
        return int((await client.post("/hooks/wa", data=raw, headers=signature(raw))).status)

    return Driver("wa", wa_config(graph.base), inbound, _now(graph.texts), [CUSTOMER])


async def _slack(server: Any) -> Driver:
    from tests.connectors.slack.conftest import slack_config
    from tests.connectors.slack.fake_slack import FakeSlack, payload, signed

    fake = FakeSlack()
    fake.base = str((await server(fake.app())).make_url("")).rstrip("/")

    async def inbound(client: Any, text: str) -> int:
        raw = json.dumps(payload("thread_reply", text=text)).encode()
        return int((await client.post("/hooks/slack/events", data=raw, headers=signed(raw))).status)

    posted = _now(lambda: [str(c["text"]) for c in fake.calls_to("chat.postMessage")])
    return Driver("slack", slack_config(fake), inbound, posted)


async def _webchat(server: Any) -> Driver:
    visitor: dict[str, str] = {}

    async def inbound(client: Any, text: str) -> int:
        token = (await (await client.post("/hooks/webchat/api/session")).json())["token"]
        visitor["X-Webchat-Token"] = token
        resp = await client.post("/hooks/webchat/api/messages", json={"id": "p1", "text": text}, headers=visitor)
        return int(resp.status)

    async def sent(client: Any) -> list[str]:
        data = await (await client.get("/hooks/webchat/api/events?since=0&wait=2", headers=visitor)).json()
        return [str(item.get("html", "")) for item in data["items"]]

    return Driver("webchat", {"type": "webchat"}, inbound, sent)


async def _twilio_sms(server: Any) -> Driver:
    from tests.connectors.twilio_sms.fake import FakeTwilio
    from tests.connectors.twilio_sms.helpers import CUSTOMER, sms_config

    fake = FakeTwilio()
    base = str((await server(fake.app())).make_url("")).rstrip("/")

    async def inbound(client: Any, text: str) -> int:
        fake.reach["http://127.0.0.1:8080"] = str(client.make_url("")).rstrip("/")
        fake.sms_url = "http://127.0.0.1:8080/hooks/sms"
        await fake.text(CUSTOMER, text)
        return 503 if fake.errors else 200

    return Driver("sms", sms_config(base), inbound, _now(lambda: [f["Body"] for _, f in fake.sends]), [CUSTOMER])


async def _kannel(server: Any) -> Driver:
    from urllib.parse import urlencode

    from tests.connectors.kannel.contract import CUSTOMER, SECRET, kannel_config
    from tests.connectors.kannel.fake import FakeKannel

    fake = FakeKannel()
    base = str((await server(fake.app())).make_url("")).rstrip("/")

    async def inbound(client: Any, text: str) -> int:
        fake.reach["http://127.0.0.1:8080"] = str(client.make_url("")).rstrip("/")
        query = urlencode({"from": CUSTOMER, "to": "+15550001111", "text": text, "id": "kn-privacy-1"})
        return int((await client.get(f"/hooks/kn/mo/{SECRET}?{query}")).status)

    return Driver("kn", kannel_config(base), inbound, _now(lambda: [q["text"] for q in fake.sent]), [CUSTOMER])


def _now(texts: Callable[[], list[str]]) -> Callable[[Any], Awaitable[list[str]]]:
    async def read(client: Any) -> list[str]:
        return texts()

    return read


DRIVERS: dict[str, Callable[[Any], Awaitable[Driver]]] = {
    "telegram": _telegram,
    "whatsapp": _whatsapp,
    "slack": _slack,
    "webchat": _webchat,
    "twilio_sms": _twilio_sms,
    "kannel": _kannel,
}


@pytest.mark.parametrize("kind", sorted(DRIVERS))
async def test_canaries_both_ways_leave_nothing(
    kind: str, start_relay: RelayFactory, aiohttp_server: Any, relay_logs: io.StringIO, canary: str
) -> None:
    driver = await DRIVERS[kind](aiohttp_server)
    raw = workspace(
        {driver.instance: driver.config, "inbox": {"type": "inbox", "access_key": INBOX_KEY}},
        [{"from": [driver.instance], "to": "inbox"}],
    )
    client, _ = await start_relay(raw)
    started = time.time()
    answer = f"answer {canary[::-1]}"
    with no_file_writes() as writes:
        status = await driver.inbound(client, f"{canary} call {phone_of(canary)} mail {email_of(canary)}")
        assert status == 200
        convs = (await (await client.get("/hooks/inbox/api/conversations", headers=INBOX)).json())["conversations"]
        ref = convs[0]["conversation"]
        thread = await (await client.get(f"/hooks/inbox/api/conversations/{ref}", headers=INBOX)).json()
        assert canary in json.dumps(thread)
        resp = await client.post(f"/hooks/inbox/api/conversations/{ref}/messages", json={"text": answer}, headers=INBOX)
        assert resp.status == 200, await resp.text()
        sent = await driver.sent(client)
        metrics = await (await client.get("/metrics")).text()
    STATS["file_writes"] += len(writes)
    assert writes == []
    assert any(canary[::-1] in text for text in sent), "the answer did not reach the platform fake"
    needles = [*secrets_of(canary), canary[::-1], *driver.needles]
    assert scan_logs(relay_logs.getvalue(), needles) == []
    assert [n for n in needles if n in metrics] == []
    assert scan_files(started, needles) == []
    CONNECTORS.update({kind, "inbox"})


async def test_canaries_through_zendesk_both_ways_leave_nothing(
    start_relay: RelayFactory, aiohttp_server: Any, relay_logs: io.StringIO, canary: str
) -> None:
    from tests.connectors.zendesk.contract import zendesk_config
    from tests.connectors.zendesk.fake import FakeSunco

    fake = FakeSunco(retry_base=0.05)
    fake.base = str((await aiohttp_server(fake.app())).make_url("")).rstrip("/")
    zd = zendesk_config(fake.base, share_contact=["email", "phone"])
    client, _ = await start_relay(
        workspace({"webchat": {"type": "webchat"}, "zd": zd}, [{"from": ["webchat"], "to": "zd"}])
    )
    fake.add_webhook(str(client.make_url("/hooks/zd")))
    started = time.time()
    answer, document = f"answer {canary[::-1]}", f"%PDF {canary} {email_of(canary)}".encode()
    try:
        with no_file_writes() as writes:
            visitor = {"X-Webchat-Token": (await (await client.post("/hooks/webchat/api/session")).json())["token"]}
            said = f"{canary} call {phone_of(canary)} mail {email_of(canary)}"
            body = {"id": "p1", "text": said, "name": f"Ana {canary}"}
            assert (await client.post("/hooks/webchat/api/messages", json=body, headers=visitor)).status == 200
            assert fake.texts() == [said]
            fake.agent_reply(next(iter(fake.conversations)), answer, media=(document, "application/pdf", "doc.pdf"))
            await fake.settle()
            items = await (await client.get("/hooks/webchat/api/events?since=0&wait=2", headers=visitor)).json()
            html = items["items"][0]["html"]
            link = html.split('href="', 1)[1].split('"', 1)[0].split("/media/", 1)[1]
            assert await (await client.get(f"/media/{link}")).read() == document
            metrics = await (await client.get("/metrics")).text()
    finally:
        await fake.close()
    STATS["file_writes"] += len(writes)
    assert writes == []
    assert canary[::-1] in html
    needles = [*secrets_of(canary), canary[::-1]]
    assert scan_logs(relay_logs.getvalue(), needles) == []
    assert [n for n in needles if n in metrics] == []
    assert scan_files(started, needles) == []
    CONNECTORS.update({"zendesk", "webchat"})
