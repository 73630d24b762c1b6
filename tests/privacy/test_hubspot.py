"""Canaries both ways through the HubSpot connector (WhatsApp and web chat customers -> HubSpot fake ->
agent reply -> customer, statuses back): no file written, nothing in DEBUG logs, metrics or recent /tmp files."""

from __future__ import annotations

import io
import json
import time
from typing import Any

from tests.conftest import RelayFactory, chat_token
from tests.connectors.hubspot.fake import REFRESH
from tests.connectors.hubspot.helpers import start, until
from tests.connectors.whatsapp.fake_graph import FakeGraph
from tests.connectors.whatsapp.helpers import signature, status_payload, text_payload, wa_config
from tests.privacy.common import CONNECTORS, STATS, email_of, phone_of, scan_files, scan_logs, secrets_of
from tests.support.audit import no_file_writes


async def test_canaries_through_hubspot_leave_nothing(
    start_relay: RelayFactory, aiohttp_server: Any, relay_logs: io.StringIO, canary: str
) -> None:
    graph = FakeGraph()
    graph.base = str((await aiohttp_server(graph.app())).make_url("")).rstrip("/")
    messengers = {"wa": wa_config(graph.base), "webchat": {"type": "webchat"}}
    env = await start(aiohttp_server, start_relay, messengers)
    phone = "".join(c for c in phone_of(canary) if c.isdigit())
    answer = f"answer {canary[::-1]}"
    started = time.time()
    with no_file_writes() as writes:
        raw = text_payload("wamid.PRIV1", f"{canary} mail {email_of(canary)}", wa_id=phone)
        assert (await env.client.post("/hooks/wa", data=raw, headers=signature(raw))).status == 200
        headers = await chat_token(env.client)
        body = {"id": "p1", "text": f"{canary} call {phone_of(canary)}", "name": canary}
        assert (await env.client.post("/hooks/webchat/api/messages", json=body, headers=headers)).status == 200
        wa_customer, chat_customer = env.published()
        assert canary in wa_customer["text"] and wa_customer["senders"][0]["deliveryIdentifier"]["value"] == f"+{phone}"
        _, wa_statuses = await env.fake.agent_reply(wa_customer, answer)
        _, chat_statuses = await env.fake.agent_reply(chat_customer, answer)
        assert wa_statuses == chat_statuses == [200]
        raw = status_payload(f"wamid.OUT{len(graph.sent)}", "read", wa_id=phone)
        assert (await env.client.post("/hooks/wa", data=raw, headers=signature(raw))).status == 200
        await until(lambda: [s for _, s, _ in env.fake.statuses].count("READ") == 1)
        events = await (await env.client.get("/hooks/webchat/api/events?since=0&wait=0", headers=headers)).json()
        metrics = await (await env.client.get("/metrics")).text()
        ready = await (await env.client.get("/readyz")).text()
    STATS["file_writes"] += len(writes)
    assert writes == []
    assert graph.texts(phone) == [answer] and any(canary[::-1] in item["html"] for item in events["items"])
    needles = [*secrets_of(canary), canary[::-1], phone, REFRESH, *env.fake.access]
    assert scan_logs(relay_logs.getvalue(), needles) == []
    assert [n for n in needles if n in metrics or n in ready] == []
    assert scan_files(started, needles) == []
    assert canary not in json.dumps([s for s in env.fake.statuses])
    CONNECTORS.update({"hubspot", "webchat", "whatsapp"})
