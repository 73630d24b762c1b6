"""Proof of no content at rest: canaries through the whole loop, no file written, no canary in any log."""

from __future__ import annotations

import io
import json
import logging
import time
from typing import Any

import pytest

from relay.http import sign
from relay.logs import setup_logging
from tests.conftest import RelayFactory, chat_token, sandbox_workspace, webhook_workspace
from tests.support.at_rest import files_holding
from tests.support.audit import no_file_writes
from tests.support.crm_sink import SINK_SECRET

INBOX = {"Authorization": "Bearer inbox-test-key-123456"}


@pytest.fixture
def relay_logs() -> Any:
    """Every relay and library log record, at DEBUG, through the relay's own handler and redactor."""
    stream = io.StringIO()
    setup_logging("debug", "json", stream=stream)
    yield stream
    logging.getLogger().handlers.clear()
    logging.getLogger().setLevel(logging.WARNING)


async def test_canaries_through_webhook_crm_leave_nothing(
    start_relay: RelayFactory, crm_sink: Any, relay_logs: io.StringIO, canary: str
) -> None:
    sink, url = crm_sink
    client, _relay = await start_relay(webhook_workspace(url))
    phone, email = "+49 151 23456789", f"{canary.lower()}@example.org"
    started = time.time()
    with no_file_writes() as writes:
        chat = await chat_token(client)
        for i, text in enumerate((f"{canary} order", f"call me {phone}", f"mail {email}")):
            resp = await client.post("/hooks/webchat/api/messages", json={"id": f"c{i}", "text": text}, headers=chat)
            assert resp.status == 200
        conversation = sink.messages()[0]["conversation"]
        raw = json.dumps({"conversation": conversation, "id": "crm-1", "text": f"answer {canary}"}).encode()
        resp = await client.post("/hooks/crm", data=raw, headers={"X-Relay-Signature": sign(SINK_SECRET.encode(), raw)})
        assert resp.status == 200
        bad = await client.post("/hooks/crm", data=raw, headers={"X-Relay-Signature": "t=1,v1=00"})
        assert canary not in await bad.text()
        sink.mode = "400"
        await client.post("/hooks/webchat/api/messages", json={"id": "c9", "text": f"{canary} lost"}, headers=chat)
        metrics = await (await client.get("/metrics")).text()
    assert writes == []
    assert any(canary in m["message"]["text"] for m in sink.messages())
    logs = relay_logs.getvalue()
    assert "message delivered" in logs
    for secret in (canary, canary.lower(), phone, "23456789", email, SINK_SECRET):
        assert secret not in logs
        assert secret not in metrics
    assert files_holding(started, [canary.encode(), canary.lower().encode()]) == []


async def test_canaries_through_the_sandbox_leave_nothing(
    start_relay: RelayFactory, relay_logs: io.StringIO, canary: str
) -> None:
    client, _ = await start_relay(sandbox_workspace())
    with no_file_writes() as writes:
        chat = await chat_token(client)
        await client.post("/hooks/webchat/api/messages", json={"id": "s1", "text": canary}, headers=chat)
        convs = await (await client.get("/hooks/inbox/api/conversations", headers=INBOX)).json()
        ref = convs["conversations"][0]["conversation"]
        await client.post(f"/hooks/inbox/api/conversations/{ref}/messages", json={"text": canary[::-1]}, headers=INBOX)
    assert writes == []
    logs = relay_logs.getvalue()
    assert canary not in logs and canary[::-1] not in logs


def test_redactor_masks_tokens_and_personal_data() -> None:
    stream = io.StringIO()
    setup_logging("debug", "text", secrets=["configured-secret-value"], stream=stream)
    try:
        log = logging.getLogger("httpx")
        log.setLevel(logging.DEBUG)
        log.debug("GET https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe")
        logging.getLogger("x").warning("auth Bearer eyJhbGciOi.eyJzdWIiOiIx.sig and xoxb-123-456-abc")
        logging.getLogger("x").warning("from ana@example.org +44 20 7946 0958 using configured-secret-value")
        try:
            raise ValueError("text of a customer")
        except ValueError:
            logging.getLogger("x").exception("failed")
    finally:
        logging.getLogger().handlers.clear()
        logging.getLogger("httpx").setLevel(logging.WARNING)
    out = stream.getvalue()
    for leaked in (
        "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        "eyJhbGciOi",
        "xoxb-123",
        "ana@example.org",
        "7946",
        "configured-secret-value",
        "text of a customer",
    ):
        assert leaked not in out
    assert "ValueError" in out
