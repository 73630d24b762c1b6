"""WhatsApp fake -> relay -> inbox -> agent reply -> WhatsApp fake, and the receipt coming back."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.connectors.whatsapp.helpers import CUSTOMER, INBOX_AUTH, signature, status_payload, text_payload


async def test_customer_to_inbox_and_agent_reply_back(
    make_env: Any, canary: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    env = await make_env(crm="inbox")
    client = env.client
    raw = text_payload("wamid.E2E1", f"Where is *my* order? {canary}")
    resp = await client.post("/hooks/wa", data=raw, headers=signature(raw))
    assert resp.status == 200, await resp.text()
    convs = (await (await client.get("/hooks/crm/api/conversations", headers=INBOX_AUTH)).json())["conversations"]
    assert len(convs) == 1 and convs[0]["title"] == "Ana Lima"
    ref = convs[0]["conversation"]
    thread = await (await client.get(f"/hooks/crm/api/conversations/{ref}", headers=INBOX_AUTH)).json()
    assert "<b>my</b>" in thread["messages"][0]["html"] and canary in thread["messages"][0]["html"]

    resp = await client.post(
        f"/hooks/crm/api/conversations/{ref}/messages", headers=INBOX_AUTH, json={"text": "It **shipped** today"}
    )
    assert resp.status == 200, await resp.text()
    assert env.graph.sent[-1]["to"] == CUSTOMER and env.graph.sent[-1]["text"]["body"] == "It *shipped* today"

    for state in ("delivered", "read"):
        raw = status_payload("wamid.OUT1", state)
        assert (await client.post("/hooks/wa", data=raw, headers=signature(raw))).status == 200
    raw = status_payload("wamid.OUT1", "sent")
    assert (await client.post("/hooks/wa", data=raw, headers=signature(raw))).status == 200
    thread = await (await client.get(f"/hooks/crm/api/conversations/{ref}", headers=INBOX_AUTH)).json()
    assert thread["messages"][-1]["direction"] == "out" and thread["messages"][-1]["status"] == "read"
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert "webhook handled" in logged
    assert canary not in logged and CUSTOMER not in logged and "shipped" not in logged
