"""Call events with canaries (caller name, number, links) through the calls connector: nothing at rest."""

from __future__ import annotations

import io
import time
from typing import Any

from tests.conftest import RelayFactory, workspace
from tests.connectors.calls.contract import calls_config, event_body, signed_event
from tests.privacy.common import CONNECTORS, STATS, phone_of, scan_files, scan_logs, secrets_of
from tests.support.audit import no_file_writes
from tests.support.crm_sink import SINK_SECRET, CrmSink


async def test_call_events_leave_nothing(
    start_relay: RelayFactory, crm_sink: tuple[CrmSink, str], relay_logs: io.StringIO, canary: str
) -> None:
    sink, url = crm_sink
    connectors = {
        "calls": calls_config("http://127.0.0.1:9", links=True),
        "crm": {"type": "webhook", "url": url, "secret": SINK_SECRET},
    }
    client, _ = await start_relay(workspace(connectors, [{"from": ["calls"], "to": "crm"}]))
    phone = phone_of(canary)
    started = time.time()
    body = event_body(
        "call-" + canary, "voicemail", phone, caller_name=canary, recording_url=f"https://pbx.example.com/{canary}"
    )
    with no_file_writes() as writes:
        raw, headers = signed_event(body)
        resp = await client.post("/hooks/calls/events", data=raw, headers=headers)
        assert resp.status == 200, await resp.text()
        metrics = await (await client.get("/metrics")).text()
    STATS["file_writes"] += len(writes)
    assert writes == []
    assert sink.messages("call")[0]["sender"]["name"] == canary, "the CRM got it"
    needles: list[Any] = [*secrets_of(canary), phone.replace(" ", "")]
    assert scan_logs(relay_logs.getvalue(), needles) == []
    assert [n for n in needles if n in metrics] == []
    assert scan_files(started, needles) == []
    CONNECTORS.update({"calls"})
