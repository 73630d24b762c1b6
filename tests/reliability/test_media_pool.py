"""Media readers cannot take the relay down: stalled or vanished /media clients against a trickling file host
leave CRM deliveries and readiness alone, streams are capped and time-bounded, and their slots come back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, make_mocked_request

from relay.app import Relay
from tests.conftest import RelayFactory, chat_token, webhook_workspace
from tests.support.crm_sink import CrmSink
from tests.support.file_host import TG_HEADERS, FileHost, document, files_to_crm

Sink = tuple[CrmSink, str]
Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
SLOW = "documents/slow.bin"


async def until(done: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait for a condition; fail the test if it does not come true in time."""
    end = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < end, "condition not reached in time"
        await asyncio.sleep(0.05)


async def open_reader(client: TestClient[Any, Any], path: str) -> Conn:
    """A raw client that asks for `path` and then reads nothing."""
    reader, writer = await asyncio.open_connection(str(client.server.host), int(client.server.port or 0))
    writer.write(f"GET {path} HTTP/1.1\r\nHost: relay\r\n\r\n".encode())
    await writer.drain()
    return reader, writer


async def relay_with_slow_file(
    start_relay: RelayFactory, aiohttp_server: Any, crm_sink: Sink, **extra: Any
) -> tuple[TestClient[Any, Any], Relay, FileHost, str]:
    """A relay whose one Telegram document trickles from its host: (client, relay, host, media path)."""
    host = FileHost(trickle={SLOW})
    host.add_file("f-slow", SLOW, b"\0" * 1_000_000)
    host.add_file("f-fast", "documents/fast.pdf", b"%PDF-1.4 fast")
    api = str((await aiohttp_server(host.app())).make_url("/")).rstrip("/")
    sink, url = crm_sink
    client, relay = await start_relay(files_to_crm(api, url, **extra))
    resp = await client.post("/hooks/tg/", json=document(9100, "f-slow", "slow.bin", "image/png"), headers=TG_HEADERS)
    assert resp.status == 200
    return client, relay, host, urlsplit(sink.received[-1]["message"]["attachments"][0]["url"]).path


async def test_stalled_and_dropped_media_readers_leave_deliveries_and_readiness_alone(
    start_relay: RelayFactory, aiohttp_server: Any, crm_sink: Sink
) -> None:
    client, relay, host, media = await relay_with_slow_file(
        start_relay,
        aiohttp_server,
        crm_sink,
        server={"max_inflight": 5},
        media={"max_streams": 100, "fetch_timeout": 50},
    )
    assert relay.session.connector is not None
    delivery_pool = relay.session.connector.limit
    stalled = [await open_reader(client, media) for _ in range(delivery_pool + 5)]
    await until(lambda: host.streaming >= delivery_pool)

    sink, _ = crm_sink
    chat = await chat_token(client)
    posts = [
        client.post("/hooks/webchat/api/messages", json={"id": f"m{n}", "text": "hi"}, headers=chat) for n in range(4)
    ]
    for resp in await asyncio.gather(*posts):
        assert resp.status == 200, await resp.text()
    assert len(sink.messages()) == 5
    ready = await client.get("/readyz")
    assert ready.status == 200, await ready.text()
    assert (await ready.json())["delivery_pool_ok"] is True

    for n in range(20):
        reader, writer = await open_reader(client, media)
        if n % 2:
            assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"HTTP/1.1 200")
        writer.close()
    await until(lambda: host.streaming == len(stalled) and relay.media.active == len(stalled))
    for _, writer in stalled:
        writer.close()
    await until(lambda: relay.media.active == 0 and host.streaming == 0)
    reader, writer = await open_reader(client, media)
    assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"HTTP/1.1 200")
    writer.close()
    await until(lambda: relay.media.active == 0)


async def test_over_the_stream_cap_media_gets_503_with_a_reason_and_slots_come_back(
    start_relay: RelayFactory, aiohttp_server: Any, crm_sink: Sink
) -> None:
    client, relay, host, media = await relay_with_slow_file(
        start_relay, aiohttp_server, crm_sink, media={"max_streams": 2}
    )
    held = [await open_reader(client, media) for _ in range(2)]
    await until(lambda: relay.media.active == 2)
    busy = await client.get(media)
    assert busy.status == 503
    assert int(busy.headers["Retry-After"]) >= 1
    assert (await busy.json())["reason"] == "media_busy"
    assert host.streaming == 2
    for _, writer in held:
        writer.close()
    await until(lambda: relay.media.active == 0 and host.streaming == 0)
    reader, writer = await open_reader(client, media)
    assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"HTTP/1.1 200")
    writer.close()
    await until(lambda: relay.media.active == 0)


async def test_a_trickling_file_cannot_hold_a_slot_past_the_fetch_timeout(
    start_relay: RelayFactory, aiohttp_server: Any, crm_sink: Sink
) -> None:
    client, relay, host, media = await relay_with_slow_file(
        start_relay, aiohttp_server, crm_sink, media={"fetch_timeout": 1.5}
    )
    started = time.monotonic()
    reader, writer = await open_reader(client, media)
    await until(lambda: relay.media.active == 1)
    got = await asyncio.wait_for(reader.read(), 10)
    assert got.startswith(b"HTTP/1.1 200") and not got.endswith(b"0\r\n\r\n"), "cut short, never ended as complete"
    assert time.monotonic() - started < 6
    await until(lambda: relay.media.active == 0 and host.streaming == 0, timeout=3)
    writer.close()


async def test_readiness_says_not_ready_while_the_delivery_pool_is_saturated(
    start_relay: RelayFactory, aiohttp_server: Any, crm_sink: Sink
) -> None:
    _, url = crm_sink
    let_go = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await let_go.wait()
        return web.Response(text="")

    slow = web.Application()
    slow.router.add_get("/", hang)
    hang_url = str((await aiohttp_server(slow)).make_url("/"))
    client, relay = await start_relay({**webhook_workspace(url), "server": {"max_inflight": 1}})
    assert relay.session.connector is not None
    pool = relay.session.connector.limit

    async def use() -> None:
        async with relay.session.get(hang_url) as resp:
            await resp.read()

    users = [asyncio.create_task(use()) for _ in range(pool + 2)]
    try:
        await until(lambda: len(getattr(relay.session.connector, "_acquired", ())) == pool)
        resp = await client.get("/readyz")
        body = await resp.json()
        assert resp.status == 503
        assert body["ready"] is False and body["delivery_pool_ok"] is False
        assert body["reason"].startswith("delivery_pool_saturated")
    finally:
        let_go.set()
        await asyncio.gather(*users)
    resp = await client.get("/readyz")
    assert resp.status == 200 and (await resp.json())["ready"] is True


async def test_a_cancelled_stream_releases_its_file_and_its_slot(
    start_relay: RelayFactory, aiohttp_server: Any, crm_sink: Sink
) -> None:
    _, relay, host, media = await relay_with_slow_file(start_relay, aiohttp_server, crm_sink)
    request = make_mocked_request("GET", media, match_info={"token": media.rsplit("/", 1)[1]})
    task = asyncio.create_task(relay.media.handle(request))
    await until(lambda: host.streaming == 1 and relay.media.active == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await until(lambda: relay.media.active == 0 and host.streaming == 0)
