"""Media both ways through memory: Telegram files streamed to the CRM, CRM files uploaded; nothing on disk."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlsplit

import pytest

from relay.errors import MediaError
from tests.conftest import RelayFactory
from tests.connectors.telegram.fake_api import TOKEN, FakeTelegram
from tests.connectors.telegram.helpers import SECRET_HEADER, WriteAudit, payload, to_crm
from tests.connectors.telegram.test_outbound import HEADERS, crm_post
from tests.support.crm_sink import CrmSink

Fake = tuple[FakeTelegram, str]
Sink = tuple[CrmSink, str]
PHOTO = b"\xff\xd8\xff\xe0" + os.urandom(300_000)
PDF = b"%PDF-1.4\n" + os.urandom(50_000)


async def test_customer_media_reach_the_crm_through_the_relay_without_files(
    start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink
) -> None:
    fake, api = fake_tg
    sink, url = crm_sink
    fake.add_file("AgACAgQAAxkBl", "photos/file_7.jpg", PHOTO)
    fake.add_file("AwACAgQAAxkBv", "voice/file_8.oga", PDF)
    client, _ = await start_relay(to_crm(api, url))
    audit = WriteAudit.get()
    audit.on = True
    try:
        for name in ("photo", "voice"):
            resp = await client.post("/hooks/tg/", json=payload(name), headers={SECRET_HEADER: HEADERS[SECRET_HEADER]})
            assert resp.status == 200
        photo_url = sink.received[0]["message"]["attachments"][0]["url"]
        voice_url = sink.received[1]["message"]["attachments"][0]["url"]
        got = await client.get(urlsplit(photo_url).path)
        assert got.status == 200 and await got.read() == PHOTO
        assert got.headers["Content-Type"] == "image/jpeg"
        voice = await client.get(urlsplit(voice_url).path)
        assert await voice.read() == PDF
    finally:
        audit.on = False
    assert audit.writes == []
    assert fake.downloads == 2
    dumped = json.dumps(sink.received)
    assert TOKEN not in dumped and "/file/bot" not in dumped and "AgACAgQAAxkBl" not in dumped


async def test_crm_files_are_uploaded_from_memory(start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink) -> None:
    fake, api = fake_tg
    sink, url = crm_sink
    fake.cdn |= {"receipt.png": PHOTO, "invoice.pdf": PDF}
    client, _ = await start_relay(
        to_crm(api, url, media={"allowlist": ["127.0.0.1"]}, network={"allow_private": ["127.0.0.1/32"]})
    )
    resp = await client.post("/hooks/tg/", json=payload("text"), headers=HEADERS)
    conv = sink.received[-1]["conversation"]
    audit = WriteAudit.get()
    audit.on = True
    try:
        status, body = await crm_post(
            client,
            {
                "conversation": conv,
                "id": "files-1",
                "text": "Your **receipt** & invoice",
                "attachments": [
                    {"url": f"{api}/cdn/receipt.png", "name": "receipt.png", "mime": "image/png"},
                    {"url": f"{api}/cdn/invoice.pdf", "name": "invoice.pdf", "mime": "application/pdf"},
                ],
            },
        )
    finally:
        audit.on = False
    assert status == 200, body
    assert audit.writes == []
    photo, document = fake.sent
    assert (photo["method"], document["method"]) == ("sendPhoto", "sendDocument")
    assert photo["photo"] == PHOTO and document["document"] == PDF
    assert photo["caption"] == "Your receipt & invoice"
    assert photo["caption_entities"] == [{"type": "bold", "offset": 5, "length": 7}]
    assert "caption" not in document and fake.errors == []
    assert body["id"] == f"123456789:{photo['result']['message_id']}"
    assert resp.status == 200


async def test_download_cap_is_enforced(start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink) -> None:
    fake, api = fake_tg
    fake.add_file("big", "documents/file_9.pdf", PDF)
    _, relay = await start_relay(to_crm(api, crm_sink[1]))
    conn = relay.connectors["tg"]
    with pytest.raises(MediaError, match="cap"):
        await conn.fetch_media("big", 1000)
    with pytest.raises(MediaError) as err:
        await conn.fetch_media("no-such-file", 10_000_000)
    assert TOKEN not in str(err.value)
    stream = await conn.fetch_media("big", 10_000_000)
    data: list[Any] = [chunk async for chunk in stream.chunks]
    assert b"".join(data) == PDF and stream.size == len(PDF)
