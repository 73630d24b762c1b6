"""A file from the CRM reaches the customer the same way on every messenger: fetched once by the relay
(allowlist, no private address, capped), then uploaded or linked through a sealed relay link."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any
from urllib.parse import urlsplit

import pytest

from relay.http import sign
from tests.conftest import RelayFactory, chat_token, workspace
from tests.connectors.telegram.conftest import fake_tg
from tests.connectors.telegram.fake_api import FakeTelegram
from tests.connectors.telegram.helpers import SECRET_HEADER, payload, tg_config
from tests.support.crm_files import CrmFiles
from tests.support.crm_sink import SINK_SECRET, CrmSink

PDF = b"%PDF-1.4\n" + os.urandom(50_000)
TG = {SECRET_HEADER: "fake-secret-token_0123456789"}
__all__ = ["fake_tg"]
LOOPBACK = {"media": {"allowlist": ["127.0.0.1"]}, "network": {"allow_private": ["127.0.0.1/32"]}}


@pytest.fixture
async def files(aiohttp_server: Any) -> tuple[CrmFiles, str]:
    host = CrmFiles()
    host.files["invoice.pdf"] = ("application/pdf", PDF)
    server = await aiohttp_server(host.app())
    return host, str(server.make_url("/files")).rstrip("/")


def both(api: str, crm_url: str, **extra: Any) -> dict[str, Any]:
    """Workspace: the web chat and Telegram (at the fake `api`) -> webhook CRM at crm_url."""
    connectors = {
        "webchat": {"type": "webchat"},
        "tg": tg_config(api),
        "crm": {"type": "webhook", "url": crm_url, "secret": SINK_SECRET},
    }
    return workspace(connectors, [{"from": ["webchat", "tg"], "to": "crm"}], **extra)


async def answer(client: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    raw = json.dumps(body).encode()
    headers = {"X-Relay-Signature": sign(SINK_SECRET.encode(), raw), "Content-Type": "application/json"}
    resp = await client.post("/hooks/crm", data=raw, headers=headers)
    return resp.status, await resp.json()


async def customers(client: Any, sink: CrmSink) -> tuple[dict[str, str], str, str]:
    """A web chat visitor and a Telegram customer who each wrote once: (chat headers, their conversations)."""
    chat = await chat_token(client)
    resp = await client.post("/hooks/webchat/api/messages", json={"id": "w1", "text": "hi"}, headers=chat)
    assert resp.status == 200
    web_conv = sink.received[-1]["conversation"]
    assert (await client.post("/hooks/tg/", json=payload("text"), headers=TG)).status == 200
    return chat, web_conv, sink.received[-1]["conversation"]


async def telegram_customer(
    start_relay: RelayFactory, fake_tg: tuple[FakeTelegram, str], crm_sink: tuple[CrmSink, str]
) -> tuple[FakeTelegram, Any, CrmSink, str]:
    """A relay with a Telegram customer who wrote once: (the fake, the client, the CRM sink, their conversation)."""
    fake, api = fake_tg
    sink, url = crm_sink
    client, _ = await start_relay(both(api, url))
    _, _, conv = await customers(client, sink)
    return fake, client, sink, conv


async def chat_items(client: Any, chat: dict[str, str]) -> list[dict[str, Any]]:
    events = await (await client.get("/hooks/webchat/api/events?since=0&wait=0", headers=chat)).json()
    items: list[dict[str, Any]] = events["items"]
    return items


def attachment(base: str, name: str = "invoice.pdf") -> dict[str, Any]:
    return {"url": f"{base}/{name}", "name": "invoice.pdf", "mime": "application/pdf"}


async def test_a_crm_file_is_uploaded_to_telegram_and_linked_on_the_web_chat(
    start_relay: RelayFactory, fake_tg: tuple[FakeTelegram, str], crm_sink: tuple[CrmSink, str], files: Any
) -> None:
    fake, api = fake_tg
    (sink, url), (host, base) = crm_sink, files
    client, _ = await start_relay(both(api, url, **LOOPBACK))
    chat, web_conv, tg_conv = await customers(client, sink)

    status, body = await answer(client, {"conversation": tg_conv, "id": "f-tg", "attachments": [attachment(base)]})
    assert status == 200 and body["status"] == "delivered", body
    assert [s["method"] for s in fake.sent] == ["sendDocument"] and fake.sent[0]["document"] == PDF
    assert len(host.requests("/files/invoice.pdf")) == 1, "fetched once, uploaded from memory"

    status, body = await answer(client, {"conversation": web_conv, "id": "f-web", "attachments": [attachment(base)]})
    assert status == 200 and body["status"] == "delivered", body
    assert len(host.requests("/files/invoice.pdf")) == 2, "fetched once before the web chat was told"
    (item,) = await chat_items(client, chat)
    assert urlsplit(base).netloc not in json.dumps(item), "the CRM's URL never reaches the browser"
    link = item["html"].split('href="', 1)[1].split('"', 1)[0]
    assert urlsplit(link).path.startswith("/media/m1."), item["html"]
    got = await client.get(urlsplit(link).path)
    assert got.status == 200 and await got.read() == PDF
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert len(host.requests("/files/invoice.pdf")) == 3, "the sealed link streams the file from the CRM again"
    assert [e for e in sink.received if e["type"] == "status"] == []


FAULTS = [
    pytest.param("missing.pdf", LOOPBACK, ("media_unavailable", "HTTP 404"), id="dead-url"),
    pytest.param("invoice.pdf", {"media": {"allowlist": ["127.0.0.1"]}}, ("host_not_allowed", None), id="private"),
    pytest.param(
        "invoice.pdf", {**LOOPBACK, "media": {"allowlist": ["127.0.0.1"], "max_bytes": 1000}}, ("file_too_large", None),
        id="too-large",
    ),
]  # fmt: skip


@pytest.mark.parametrize("channel", ["webchat", "tg"])
@pytest.mark.parametrize(("name", "extra", "expected"), FAULTS)
async def test_a_file_that_cannot_be_had_fails_once_with_a_reason(
    start_relay: RelayFactory,
    fake_tg: tuple[FakeTelegram, str],
    crm_sink: tuple[CrmSink, str],
    files: Any,
    channel: str,
    name: str,
    extra: dict[str, Any],
    expected: tuple[str, str | None],
) -> None:
    fake, api = fake_tg
    (sink, url), (_, base) = crm_sink, files
    client, _ = await start_relay(both(api, url, **extra))
    chat, web_conv, tg_conv = await customers(client, sink)
    conversation = web_conv if channel == "webchat" else tg_conv
    body = {"conversation": conversation, "id": "f1", "text": "your invoice", "attachments": [attachment(base, name)]}
    status, got = await answer(client, body)
    assert status == 422 and got["status"] == "failed", got
    assert (got["reason"], got.get("code")) == expected
    await asyncio.sleep(0.3)
    assert fake.sent == [] and await chat_items(client, chat) == [], "nothing reached the customer"
    assert [e for e in sink.received if e["type"] == "status"] == [], "reported once: in the answer only"


async def test_a_reaction_to_an_unknown_id_fails_with_a_reason(
    start_relay: RelayFactory, fake_tg: tuple[FakeTelegram, str], crm_sink: tuple[CrmSink, str]
) -> None:
    fake, client, sink, conv = await telegram_customer(start_relay, fake_tg, crm_sink)
    customer_id = sink.received[-1]["message"]["id"]
    react = {"type": "reaction", "conversation": conv, "reaction": "👍"}
    status, got = await answer(client, react | {"id": "r1", "reply_to": "no-such-message"})
    assert (status, got["status"], got["reason"]) == (422, "failed", "unknown_message_to_change")
    assert fake.sent == []
    status, got = await answer(client, react | {"id": "r2", "reply_to": customer_id})
    assert (status, got["status"]) == (200, "delivered"), got
    status, got = await answer(client, react | {"id": "r3"})
    assert status == 400 and got["error"].startswith("reply_to: missing"), got


async def test_an_edit_posted_while_its_answer_is_being_sent_waits_for_it(
    start_relay: RelayFactory, fake_tg: tuple[FakeTelegram, str], crm_sink: tuple[CrmSink, str]
) -> None:
    fake, client, _, conv = await telegram_customer(start_relay, fake_tg, crm_sink)
    fake.fail("*/sendMessage", status=0, delay=0.6)
    first = {"conversation": conv, "id": "a1", "text": "first", "format": "plain"}
    edit = {"type": "edit", "conversation": conv, "id": "e1", "reply_to": "a1", "text": "edited", "format": "plain"}
    sent = asyncio.create_task(answer(client, first))
    await asyncio.sleep(0.1)
    status, got = await answer(client, edit)
    assert (status, got["status"]) == (200, "delivered"), got
    assert (await sent)[1]["status"] == "delivered"
    (changed,) = fake.edits
    assert changed["text"] == "edited" and changed["message_id"] == fake.sent[0]["result"]["message_id"]
