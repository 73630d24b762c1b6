"""A 404 or redirect from the CRM is a configuration fault: retried, shown by readiness and `relay check`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RelayFactory, chat_token, webhook_workspace


@pytest.mark.parametrize("status", ["404", "302", "308"])
async def test_wrong_crm_url_is_retried_not_failed_and_shows_in_readiness(
    start_relay: RelayFactory, crm_sink: Any, status: str
) -> None:
    sink, url = crm_sink
    sink.mode = status
    client, relay = await start_relay(webhook_workspace(url))
    chat = await chat_token(client)
    resp = await client.post("/hooks/webchat/api/messages", json={"id": "a1", "text": "hi"}, headers=chat)
    body = await resp.json()
    assert resp.status == 503, body
    assert body.get("reason") == "platform_misconfigured", body
    events = await (await client.get("/hooks/webchat/api/events?since=0&wait=0", headers=chat)).json()
    assert not [e for e in events["items"] if e.get("status") == "failed"], events
    ready = await client.get("/readyz")
    problems = (await ready.json())["problems"]
    assert ready.status == 503
    assert "crm" in problems and status in problems["crm"] and "url" in problems["crm"]
    checks = await relay.connectors["crm"].check()
    assert not checks[0].ok and status in checks[0].detail and "connectors.crm.url" in checks[0].detail
    sink.mode = "ok"
    resp = await client.post("/hooks/webchat/api/messages", json={"id": "a1", "text": "hi"}, headers=chat)
    assert resp.status == 200, await resp.text()
    assert (await (await client.get("/readyz")).json())["problems"] == {}
