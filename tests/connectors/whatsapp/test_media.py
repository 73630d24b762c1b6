"""Media both ways through memory only: downloads re-resolve expired URLs, uploads go from memory."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from relay.errors import DeliveryError, MediaError
from relay.model import Address, Attachment, Kind, MediaRef, Message
from relay.richtext import RichText
from tests.connectors.whatsapp.helpers import CUSTOMER, payload, signature

_writes: list[str] = []
_watching = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _watching or event != "open" or len(args) < 3:
        return
    mode, flags = args[1], args[2]
    writing = isinstance(mode, str) and any(c in mode for c in "wax+")
    if writing or (isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)):
        _writes.append(str(args[0]))


sys.addaudithook(_hook)


@pytest.fixture
def no_writes() -> Iterator[list[str]]:
    """Records every file opened for writing while the test runs."""
    global _watching
    _writes.clear()
    _watching = True
    try:
        yield _writes
    finally:
        _watching = False


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
PDF = b"%PDF-1.4\n" + b"0123456789" * 3000


async def test_inbound_media_streams_through_memory(make_env: Any, no_writes: list[str]) -> None:
    env = await make_env()
    env.graph.media["1029384756"] = ("image/jpeg", PNG)
    env.graph.media["5647382910"] = ("application/pdf", PDF)
    env.graph.expire_first_url.add("5647382910")
    raw = payload("media.json")
    assert (await env.client.post("/hooks/wa", data=raw, headers=signature(raw))).status == 200
    urls = {b["message"]["attachments"][0]["name"]: b["message"]["attachments"][0]["url"] for b in env.sink.received}
    for name, data in (("image.jpg", PNG), ("invoice-0042.pdf", PDF)):
        path = urls[name][urls[name].index("/media/") :]
        resp = await env.client.get(path)
        assert resp.status == 200 and await resp.read() == data
    assert [d for d in env.graph.downloads if d[0] == "5647382910"] == [("5647382910", 1), ("5647382910", 2)]
    assert no_writes == []


async def test_inbound_media_over_the_cap_is_refused(make_env: Any, no_writes: list[str]) -> None:
    env = await make_env(max_media_bytes=4096)
    env.graph.media["1029384756"] = ("image/jpeg", PNG)
    with pytest.raises(Exception, match="cap"):
        await env.wa.fetch_media("1029384756", 1 << 20)
    assert env.graph.downloads == []
    assert no_writes == []


async def test_media_url_on_a_private_address_is_refused(make_env: Any) -> None:
    env = await make_env(loopback=False)
    env.graph.media["1029384756"] = ("image/jpeg", PNG)
    with pytest.raises(MediaError, match="refused"):
        await env.wa.fetch_media("1029384756", 1 << 20)
    assert env.graph.downloads == []


async def test_media_url_off_meta_hosts_gets_no_token(make_env: Any, aiohttp_server: Any) -> None:
    seen: list[str] = []

    async def grab(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.Response(body=PNG)

    other = web.Application()
    other.router.add_get("/dl/{node}/{n}", grab)
    server = await aiohttp_server(other)
    env = await make_env()
    env.graph.media["1029384756"] = ("image/jpeg", PNG)
    env.graph.media_base = str(server.make_url("")).rstrip("/").replace("127.0.0.1", "localhost")
    with pytest.raises(Exception, match="not on a Meta host"):
        await env.wa.fetch_media("1029384756", 1 << 20)
    assert seen == []


async def test_outbound_media_uploads_from_memory(make_env: Any, no_writes: list[str]) -> None:
    env = await make_env()
    await env.wa.policy.saw_inbound(CUSTOMER, 0)
    env.graph.media["5647382910"] = ("application/pdf", PDF)
    message = Message(
        kind=Kind.MEDIA,
        id="crm-9",
        origin="crm",
        conversation=Address("wa", CUSTOMER),
        ref="wamid.IN1",
        text=RichText.of("Here you go"),
        attachments=(
            Attachment(name="photo.png", mime="image/png", data=PNG),
            Attachment(name="invoice.pdf", mime="application/pdf", ref=MediaRef("wa", "5647382910")),
        ),
    )
    first = await env.wa.send(message)
    assert first == "wamid.OUT1"
    assert [u["file"] for u in env.graph.uploads] == [PNG, PDF]
    assert env.graph.uploads[0]["type"] == "image/png" and env.graph.uploads[0]["filename"] == "photo.png"
    image, doc = env.graph.sent
    assert image["type"] == "image" and image["image"]["caption"] == "Here you go"
    assert image["context"] == {"message_id": "wamid.IN1"} and "context" not in doc
    assert doc["document"]["filename"] == "invoice.pdf" and "caption" not in doc["document"]
    assert image["image"]["id"] != doc["document"]["id"]
    assert await env.wa.send(message) == "wamid.OUT1" and len(env.graph.sent) == 2
    assert no_writes == []


async def test_long_caption_and_audio_go_as_separate_text(make_env: Any) -> None:
    env = await make_env()
    await env.wa.policy.saw_inbound(CUSTOMER, 0)
    message = Message(
        kind=Kind.MEDIA,
        id="crm-10",
        origin="crm",
        conversation=Address("wa", CUSTOMER),
        text=RichText.of("x" * 1500),
        attachments=(Attachment(name="note.ogg", mime="audio/ogg", data=b"OggS" + b"\0" * 2000),),
    )
    await env.wa.send(message)
    assert [m["type"] for m in env.graph.sent] == ["text", "audio"]
    assert "caption" not in env.graph.sent[1]["audio"]


async def test_outbound_file_over_the_cap_is_refused(make_env: Any) -> None:
    env = await make_env(max_media_bytes=4096)
    await env.wa.policy.saw_inbound(CUSTOMER, 0)
    big = Attachment(name="big.pdf", mime="application/pdf", data=PDF, size=len(PDF))
    message = Message(
        kind=Kind.MEDIA, id="crm-11", origin="crm", conversation=Address("wa", CUSTOMER), attachments=(big,)
    )
    with pytest.raises(DeliveryError, match="file_too_large"):
        await env.wa.send(message)
    assert env.graph.uploads == []
