"""The `relay check` ping is a documented event: signed, with an event id, shaped like the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import RelayFactory, chat_token, webhook_workspace


async def test_check_ping_is_an_event_like_the_others(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    client, relay = await start_relay(webhook_workspace(url))
    chat = await chat_token(client)
    await client.post("/hooks/webchat/api/messages", json={"id": "a1", "text": "hi"}, headers=chat)
    checks = await relay.connectors["crm"].check()
    assert checks[0].ok, checks
    real, ping = sink.received
    assert ping["type"] == "ping"
    assert set(ping) == set(real) - {"sender"}
    assert set(ping["message"]) == set(real["message"])
    assert ping["channel"] == "crm"
    assert sink.event_ids[1].startswith("ping-") and ping["message"]["id"] == sink.event_ids[1]
    assert sink.bad_signatures == 0
    assert "`ping`" in Path("docs/webhook-contract.md").read_text()
