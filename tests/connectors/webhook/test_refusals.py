"""Every refusal of a CRM answer names the field, what was expected and an example, and is logged."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from relay.http import sign
from tests.conftest import RelayFactory, chat_token, webhook_workspace
from tests.support.crm_sink import SINK_SECRET


async def test_malformed_answers_name_field_expectation_and_example(
    start_relay: RelayFactory, crm_sink: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(webhook_workspace(url))
    chat = await chat_token(client)
    await client.post("/hooks/webchat/api/messages", json={"id": "a1", "text": "hi"}, headers=chat)
    conversation = sink.messages()[0]["conversation"]
    base = {"conversation": conversation, "id": "crm-1", "text": "secret-canary-text"}
    caplog.set_level(logging.INFO)
    for change, field, words in (
        ({"id": None}, "id", ("missing", "e.g.", "crm-991")),
        ({"id": ""}, "id", ("empty", "e.g.")),
        ({"id": 1.5}, "id", ("invalid", "e.g.")),
        ({"type": "note"}, "type", ("message, edit, delete, reaction", "e.g.")),
        ({"format": "html"}, "format", ('"plain"', "e.g.")),
        ({"text": "x" * 100_001}, "text", ("too long", "100000")),
        ({"attachments": [{"url": "ftp://x"}]}, "attachments[0].url", ("http(s) URL", "e.g.")),
    ):
        body = {k: v for k, v in {**base, **change}.items() if v is not None}
        raw = json.dumps(body).encode()
        resp = await client.post("/hooks/crm", data=raw, headers={"X-Relay-Signature": sign(SINK_SECRET.encode(), raw)})
        error = (await resp.json())["error"]
        assert resp.status in (400, 422), error
        assert error.startswith(f"{field}: "), error
        for word in words:
            assert word in error, error
    refused = [r for r in caplog.records if r.getMessage() == "crm answer refused"]
    assert len(refused) == 7
    assert all("canary" not in str(r.__dict__) for r in caplog.records)


async def test_numeric_answer_id_is_accepted_like_a_numeric_ack_id(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(webhook_workspace(url))
    chat = await chat_token(client)
    await client.post("/hooks/webchat/api/messages", json={"id": "a1", "text": "hi"}, headers=chat)
    raw = json.dumps({"conversation": sink.messages()[0]["conversation"], "id": 991, "text": "ok"}).encode()
    resp = await client.post("/hooks/crm", data=raw, headers={"X-Relay-Signature": sign(SINK_SECRET.encode(), raw)})
    assert resp.status == 200, await resp.text()


async def test_answer_to_the_channel_path_names_the_crm_path(start_relay: RelayFactory, crm_sink: Any) -> None:
    _, url = crm_sink
    client, _ = await start_relay(webhook_workspace(url))
    for path in ("/hooks/support_tg", "/hooks/webchat/nothing"):
        resp = await client.post(path, data=b"{}")
        assert resp.status == 404
        body = await resp.json()
        assert body["answer_paths"] == ["/hooks/crm"] and "/hooks/crm" in body["error"]


async def test_the_crm_ack_id_never_reaches_the_customer(start_relay: RelayFactory, crm_sink: Any) -> None:
    _, url = crm_sink
    client, _ = await start_relay(webhook_workspace(url))
    chat = await chat_token(client)
    resp = await client.post("/hooks/webchat/api/messages", json={"id": "a1", "text": "hi"}, headers=chat)
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "delivered"
    assert "crm-1" not in json.dumps(body)
