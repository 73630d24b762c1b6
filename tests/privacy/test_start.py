"""A conversation started from a phone number: the number (and template parameters) reach the platform and
nowhere else, not in logs, answers, refusals, metrics or files; also when the number or the template is refused."""

from __future__ import annotations

import io
import json
import time
from typing import Any

from relay.http import sign
from tests.conftest import RelayFactory, workspace
from tests.connectors.whatsapp.fake_graph import FakeGraph
from tests.connectors.whatsapp.helpers import wa_config
from tests.privacy.common import CONNECTORS, STATS, phone_of, scan_files, scan_logs, secrets_of
from tests.support.audit import no_file_writes
from tests.support.crm_sink import SINK_SECRET, CrmSink


async def test_a_started_conversation_leaves_no_number_behind(
    start_relay: RelayFactory,
    aiohttp_server: Any,
    crm_sink: tuple[CrmSink, str],
    relay_logs: io.StringIO,
    canary: str,
) -> None:
    _, url = crm_sink
    graph = FakeGraph()
    graph.base = str((await aiohttp_server(graph.app())).make_url("")).rstrip("/")
    connectors = {"wa": wa_config(graph.base), "crm": {"type": "webhook", "url": url, "secret": SINK_SECRET}}
    client, _ = await start_relay(workspace(connectors, [{"from": ["wa"], "to": "crm"}]))
    spaced = phone_of(canary)
    phone = spaced.replace(" ", "")
    template = {"name": "reply_waiting", "language": "pt_BR", "body": [{"type": "text", "value": canary}]}
    answers: list[str] = []
    started = time.time()
    with no_file_writes() as writes:
        for n, (number, tpl) in enumerate(
            ((phone, template), (spaced, template), (phone, template | {"name": "no_such_template"}))
        ):
            raw = json.dumps({"channel": "wa", "phone": number, "id": f"s-{n}", "template": tpl}).encode()
            headers = {"X-Relay-Signature": sign(SINK_SECRET.encode(), raw)}
            resp = await client.post("/hooks/crm/conversations", data=raw, headers=headers)
            answers.append(f"{resp.status} {await resp.text()}")
        metrics = await (await client.get("/metrics")).text()
    STATS["file_writes"] += len(writes)
    assert writes == []
    assert [a[:3] for a in answers] == ["200", "400", "422"], answers
    assert (
        graph.sent[0]["to"] == phone.lstrip("+")
        and graph.sent[0]["template"]["components"][0]["parameters"][0]["text"] == canary
    ), "the platform got it"
    needles: list[Any] = [*secrets_of(canary), phone, phone.lstrip("+"), phone[-8:]]
    assert [n for n in needles if any(n in a for a in answers)] == []
    assert scan_logs(relay_logs.getvalue(), needles) == []
    assert [n for n in needles if n in metrics] == []
    assert scan_files(started, needles) == []
    CONNECTORS.update({"whatsapp", "webhook"})
