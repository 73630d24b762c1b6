"""Real messenger connectors in front of HubSpot: WhatsApp (phone identifier, contact match, READ receipts)
and Telegram (a photo streamed from the Bot API into HubSpot's files; an agent's file back)."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from tests.conftest import RelayFactory
from tests.connectors.hubspot.helpers import start, until
from tests.connectors.telegram.fake_api import SECRET, FakeTelegram
from tests.connectors.telegram.helpers import SECRET_HEADER, payload, tg_config
from tests.connectors.whatsapp.fake_graph import FakeGraph
from tests.connectors.whatsapp.helpers import CUSTOMER, signature, status_payload, text_payload, wa_config

PHOTO = b"\xff\xd8\xff\xe0" + os.urandom(200_000)


async def test_whatsapp_phone_identifier_contact_and_read_receipt(
    aiohttp_server: Any, start_relay: RelayFactory
) -> None:
    graph = FakeGraph()
    graph.base = str((await aiohttp_server(graph.app())).make_url("")).rstrip("/")
    env = await start(aiohttp_server, start_relay, {"wa": wa_config(graph.base)})
    env.fake.contacts.append({"id": "901", "properties": {"phone": f"+{CUSTOMER}", "email": "ana@example.org"}})
    raw = text_payload("wamid.HS1", "Is my order ready?")
    assert (await env.client.post("/hooks/wa", data=raw, headers=signature(raw))).status == 200
    customer = env.published()[0]
    assert customer["senders"][0]["deliveryIdentifier"] == {"type": "HS_PHONE_NUMBER", "value": f"+{CUSTOMER}"}
    assert customer["associatedContactId"] == 901

    reply, statuses = await env.fake.agent_reply(customer, "Yes, ready for pickup")
    assert statuses == [200]
    assert graph.texts(CUSTOMER) == ["Yes, ready for pickup"]
    wamid = f"wamid.OUT{len(graph.sent)}"
    for state in ("delivered", "read"):
        raw = status_payload(wamid, state)
        assert (await env.client.post("/hooks/wa", data=raw, headers=signature(raw))).status == 200
    await until(lambda: len(env.fake.statuses) >= 2)
    assert [(m, s) for m, s, _ in env.fake.statuses] == [(reply["id"], "SENT"), (reply["id"], "READ")]


async def test_whatsapp_failure_is_reported_without_content(aiohttp_server: Any, start_relay: RelayFactory) -> None:
    graph = FakeGraph()
    graph.base = str((await aiohttp_server(graph.app())).make_url("")).rstrip("/")
    env = await start(aiohttp_server, start_relay, {"wa": wa_config(graph.base)})
    raw = text_payload("wamid.HS2", "hello")
    assert (await env.client.post("/hooks/wa", data=raw, headers=signature(raw))).status == 200
    reply, _ = await env.fake.agent_reply(env.published()[0], "Secret discount code 1234")
    raw = status_payload(f"wamid.OUT{len(graph.sent)}", "failed", code=131026)
    assert (await env.client.post("/hooks/wa", data=raw, headers=signature(raw))).status == 200
    await until(lambda: any(s == "FAILED" for _, s, _ in env.fake.statuses))
    failed = [e for m, s, e in env.fake.statuses if s == "FAILED" and m == reply["id"]]
    assert failed and "1234" not in failed[0] and failed[0].startswith("Not delivered:")


async def test_telegram_photo_is_streamed_into_hubspot_files(aiohttp_server: Any, start_relay: RelayFactory) -> None:
    tg = FakeTelegram()
    api = str((await aiohttp_server(tg.app())).make_url("")).rstrip("/")
    tg.add_file("AgACAgQAAxkBl", "photos/file_7.jpg", PHOTO)
    env = await start(aiohttp_server, start_relay, {"tg": tg_config(api)})
    resp = await env.client.post("/hooks/tg/", json=payload("photo"), headers={SECRET_HEADER: SECRET})
    assert resp.status == 200, await resp.text()
    customer = env.published()[0]
    (att,) = customer["attachments"]
    stored = env.fake.files[att["fileId"]]
    assert stored["sha256"] == hashlib.sha256(PHOTO).hexdigest() and stored["chunked"], "streamed, not buffered"
    assert att["fileUsageType"] == "IMAGE" and stored["options"]["access"] == "PRIVATE"
    assert stored["folder"] == "/relay" and customer["integrationThreadId"]


async def test_agent_file_reaches_telegram(aiohttp_server: Any, start_relay: RelayFactory) -> None:
    tg = FakeTelegram()
    api = str((await aiohttp_server(tg.app())).make_url("")).rstrip("/")
    env = await start(
        aiohttp_server,
        start_relay,
        {"tg": tg_config(api)},
        settings={"media": {"allowlist": ["127.0.0.1"]}, "network": {"allow_private": ["127.0.0.1/32"]}},
    )
    resp = await env.client.post("/hooks/tg/", json=payload("text"), headers={SECRET_HEADER: SECRET})
    assert resp.status == 200
    fid = env.fake.agent_file("label.png", PHOTO, "image/png")
    _, statuses = await env.fake.agent_reply(env.published()[0], "Your label", [fid])
    assert statuses == [200]
    assert "sendPhoto" in tg.methods() or "sendDocument" in tg.methods()
