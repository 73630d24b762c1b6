"""The SMS outage fault: a relay process in front of the local Twilio, whose webhooks are retried as Twilio
retries them (once, then given up with error 11200), while the CRM is down longer than that; reconciliation
from Twilio's message log must deliver every text once."""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.reliability.fakes import FaultyCrm, Server
from bench.reliability.relays import (
    REDIS_URL,
    WORKSPACE_KEY,
    RelayProc,
    free_port,
    new_workspace,
    redis_available,
)
from tests.connectors.twilio_sms.fake import FakeTwilio
from tests.connectors.twilio_sms.helpers import sms_config
from tests.support.crm_sink import SINK_SECRET


@dataclass(frozen=True, slots=True)
class Outage:
    """What one run measured: the markers sent, the (marker, event id) pairs the CRM accepted, the webhook
    retries Twilio made, the seconds it took and a note for the report."""

    sent: list[str]
    accepted: list[tuple[str, str]]
    retries: int
    seconds: float
    note: str


def _config(port: int, twilio: str, crm: str, redis: bool, quick: bool) -> dict[str, Any]:
    state: dict[str, Any] = {"backend": "redis", "url": REDIS_URL} if redis else {"backend": "memory"}
    sms = sms_config(twilio, ack_deadline=2.0, number_type="short_code")
    sms |= {"reconcile_delay": 1.0 if quick else 20.0, "reconcile_max_interval": 2.0 if quick else 30.0}
    return {
        "server": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}", "shutdown_grace": 5},
        "workspace": {"id": new_workspace(), "keys": [{"id": "k1", "secret": WORKSPACE_KEY}]},
        "state": state,
        "logging": {"level": "info", "format": "json"},
        "connectors": {
            "sms": sms,
            "crm": {"type": "webhook", "url": f"{crm}/crm", "secret": SINK_SECRET, "timeout": 1.0},
        },
        "routes": [{"from": ["sms"], "to": "crm"}],
    }


def _reconciled(metrics: str) -> int:
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in metrics.splitlines()
        if line.startswith("relay_reconciled_total{") and 'outcome="delivered"' in line
    )


async def sms_outage(messages: int, outage: float, give_up: float) -> Outage:
    """`messages` texts from 20 customers spread over a CRM outage of `outage` seconds; Twilio's one retry
    comes 0.5 s (short runs) to 5 s after the first attempt."""
    run = secrets.token_hex(4)
    twilio, crm = FakeTwilio(), FaultyCrm()
    twilio.retry_pause = min(5.0, max(0.5, outage / 60))
    twilio_server, crm_server = Server(twilio.app(), free_port()), Server(crm.app(), free_port())
    port = free_port()
    quick = outage < 60
    with tempfile.TemporaryDirectory(prefix="relay-rel-sms-") as tmp:
        relay = RelayProc("sms", _config(port, twilio_server.url, crm_server.url, redis_available(), quick), Path(tmp))
        await twilio_server.open()
        await crm_server.open()
        relay.start()
        session = aiohttp.ClientSession()
        try:
            await relay.ready(session)
            twilio.sms_url = f"{relay.url}/hooks/sms"
            started = time.monotonic()
            crm.set_fault("500", outage)
            sent = [f"rel-{run}-{i}" for i in range(messages)]
            texts = []
            for i, marker in enumerate(sent):
                texts.append(asyncio.create_task(twilio.text(f"+4915100{i % 20:05d}", f"hello {marker}")))
                await asyncio.sleep(outage * 0.9 / messages)
            await asyncio.gather(*texts)
            end = time.monotonic() + give_up
            while time.monotonic() < end and {m for m, _ in crm.accepted()} < set(sent):
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)
            async with session.get(relay.url + "/metrics") as resp:
                reconciled = _reconciled(await resp.text())
            note = (
                f"Twilio gave up on {len(twilio.errors)} webhooks (error 11200) after one retry each; "
                f"{reconciled} texts delivered from Twilio's message log once the CRM was back"
            )
            retries = sum(twilio.attempts.values()) - len(sent)
            return Outage(sent, crm.accepted(), retries, round(time.monotonic() - started, 1), note)
        finally:
            await session.close()
            await relay.stop()
            await twilio.close()
            await twilio_server.close()
            await crm_server.close()
