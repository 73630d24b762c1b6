"""Helpers for the consent tests: a webchat -> webhook CRM workspace with a ledger, keywords switched on
for a messenger that does not declare them, signed CRM posts, and a spy on a connector's sends."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from relay.app import Relay
from relay.http import sign
from relay.model import Message
from tests.conftest import webhook_workspace
from tests.support.crm_sink import SINK_SECRET


def consent_workspace(crm_url: str, ledger: Path | None = None, **consent: Any) -> dict[str, Any]:
    raw = webhook_workspace(crm_url)
    raw["consent"] = ({"backend": "sqlite", "path": str(ledger)} if ledger else {}) | consent
    return raw


def keywords_on(relay: Relay, instance: str) -> None:
    """Let the core answer STOP / START / HELP for `instance` (a test double of a messenger that declares it)."""
    conn = relay.connectors[instance]
    conn.capabilities = replace(conn.capabilities, consent_keywords=True)


async def crm_post(client: Any, body: dict[str, Any]) -> Any:
    raw = json.dumps(body).encode()
    return await client.post("/hooks/crm", data=raw, headers={"X-Relay-Signature": sign(SINK_SECRET.encode(), raw)})


def spy_sends(relay: Relay, instance: str) -> list[Message]:
    """Record every message the core hands to `instance`'s send (then send it as usual)."""
    conn = relay.connectors[instance]
    sent: list[Message] = []
    real = conn.send

    async def send(message: Message) -> str:
        sent.append(message)
        return await real(message)

    conn.send = send  # type: ignore[method-assign]
    return sent
