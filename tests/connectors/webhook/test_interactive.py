"""Templates, choices, typing and read answers: refusals name the field; a messenger without them degrades."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from relay.http import sign
from relay.model import Message
from tests.conftest import RelayFactory, chat_token, webhook_workspace
from tests.support.crm_sink import SINK_SECRET

PHONE = "+5511955554444"


def _signed(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, {"X-Relay-Signature": sign(SINK_SECRET.encode(), raw)}


async def _conversation(client: Any, sink: Any) -> str:
    chat = await chat_token(client)
    await client.post("/hooks/webchat/api/messages", json={"id": "a1", "text": "hi"}, headers=chat)
    return str(sink.messages()[0]["conversation"])


async def test_new_answer_fields_are_refused_naming_the_field(
    start_relay: RelayFactory, crm_sink: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(webhook_workspace(url))
    base = {"conversation": await _conversation(client, sink), "id": "crm-1"}
    caplog.set_level(logging.INFO)
    for change, field in (
        ({"type": "template"}, "template"),
        ({"type": "template", "template": {"name": "x"}}, "template.language"),
        (
            {
                "type": "template",
                "template": {"name": "x", "language": "en", "body": [{"type": "money", "value": "1"}]},
            },
            "template.body[0].type",
        ),
        (
            {
                "type": "template",
                "template": {"name": "x", "language": "en", "body": [{"type": "text", "value": "A", "name": "First"}]},
            },
            "template.body[0].name",
        ),
        ({"type": "read"}, "up_to"),
        ({"choices": {"items": [{"id": "a", "title": "A"}]}}, "text"),
        ({"text": "Pick", "choices": {"style": "url", "items": [{"id": "a", "title": "A"}]}}, "choices.items[0].url"),
        (
            {"text": "Pick", "choices": {"items": [{"id": "a", "title": "A"}, {"id": "a", "title": "B"}]}},
            "choices.items",
        ),
        ({"text": "Pick", "choices": {"style": "grid", "items": [{"id": "a", "title": "A"}]}}, "choices.style"),
    ):
        raw, headers = _signed({**base, **change})
        resp = await client.post("/hooks/crm", data=raw, headers=headers)
        error = (await resp.json())["error"]
        assert resp.status == 400, error
        assert error.startswith(f"{field}: ") and "e.g." in error, error


async def test_without_choices_typing_or_read_the_web_chat_gets_text_or_nothing(
    start_relay: RelayFactory, crm_sink: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink, url = crm_sink
    client, relay = await start_relay(webhook_workspace(url))
    conversation = await _conversation(client, sink)
    chat = relay.connectors["webchat"]
    sent: list[Message] = []
    send = chat.send

    async def recording(message: Message) -> str:
        sent.append(message)
        return await send(message)

    monkeypatch.setattr(chat, "send", recording)
    items = [{"id": "mon", "title": "Monday"}, {"id": "tue", "title": "Tuesday", "description": "afternoon"}]
    for n, extra in enumerate(({"type": "typing"}, {"type": "read", "up_to": "a1"})):
        raw, headers = _signed({"conversation": conversation, "id": f"sig-{n}", **extra})
        resp = await client.post("/hooks/crm", data=raw, headers=headers)
        assert resp.status == 200 and (await resp.json())["status"] == "delivered"
    raw, headers = _signed(
        {"conversation": conversation, "id": "c-1", "text": "Which day?", "choices": {"items": items}}
    )
    assert (await client.post("/hooks/crm", data=raw, headers=headers)).status == 200
    assert len(sent) == 1 and sent[0].choices is None
    assert sent[0].text.plain == "Which day?\n\n1. Monday\n2. Tuesday — afternoon"


async def test_start_refuses_a_bad_number_without_repeating_it(
    start_relay: RelayFactory, crm_sink: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _, url = crm_sink
    client, _ = await start_relay(webhook_workspace(url))
    caplog.set_level(logging.DEBUG)
    template = {"name": "hello", "language": "en_US"}
    for phone, status in (("55 11 9555 54444", 400), (PHONE, 422)):
        raw, headers = _signed({"channel": "webchat", "phone": phone, "id": "s-1", "template": template})
        resp = await client.post("/hooks/crm/conversations", data=raw, headers=headers)
        text = await resp.text()
        assert resp.status == status, text
        assert phone not in text and "9555" not in text
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert "55554444" not in logged and "9555" not in logged


async def test_list_templates_is_signed_over_the_query(start_relay: RelayFactory, crm_sink: Any) -> None:
    _, url = crm_sink
    client, _ = await start_relay(webhook_workspace(url))
    t = int(time.time())
    resp = await client.get("/hooks/crm/templates?channel=webchat")
    assert resp.status == 401
    header = sign(SINK_SECRET.encode(), b"channel=other", t)
    resp = await client.get("/hooks/crm/templates?channel=webchat", headers={"X-Relay-Signature": header})
    assert resp.status == 401
    header = sign(SINK_SECRET.encode(), b"channel=webchat", t)
    resp = await client.get("/hooks/crm/templates?channel=webchat", headers={"X-Relay-Signature": header})
    assert resp.status == 422 and (await resp.json())["reason"] == "unsupported"


async def test_a_template_to_a_messenger_without_templates_needs_fallback_text(
    start_relay: RelayFactory, crm_sink: Any
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(webhook_workspace(url))
    base = {"conversation": await _conversation(client, sink), "type": "template"}
    template = {"name": "order_update", "language": "en_US"}
    raw, headers = _signed(base | {"id": "t-1", "template": template})
    resp = await client.post("/hooks/crm", data=raw, headers=headers)
    assert resp.status == 422 and (await resp.json())["reason"] == "unsupported"
    raw, headers = _signed(base | {"id": "t-2", "template": template, "text": "Your order ships today"})
    resp = await client.post("/hooks/crm", data=raw, headers=headers)
    assert resp.status == 200 and (await resp.json())["status"] == "delivered"
    named = template | {"body": [{"type": "text", "value": "Ana", "name": "first_name"}]}
    raw, headers = _signed(base | {"id": "t-3", "template": named, "text": "Ana, your order ships today"})
    resp = await client.post("/hooks/crm", data=raw, headers=headers)
    assert resp.status == 200 and (await resp.json())["status"] == "delivered"
