"""The lean client against real local servers: keep-alive, framing both ways, faults, limits and TLS."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from relay.client import Call, HostPolicy, PlatformClient, Sessions
from relay.errors import DeliveryError
from relay.reasons import Reason
from relay.wire import Stale, Unsupported, WireError, WireTimeout
from relay.wirepool import Target, WireClient, proxy_for
from tests.connectors.teams.fakes import tls_material

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def raw_server(serve: Serve, tls: ssl.SSLContext | None = None) -> tuple[asyncio.Server, str]:
    """A bare server running `serve` per connection; it ends quietly when the client goes or the test ends."""

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await serve(reader, writer)
        except (asyncio.CancelledError, ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(run, "127.0.0.1", 0, ssl=tls)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/x"


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """(head, body) of one request with a Content-Length body."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, await reader.readexactly(length)


def target(client: WireClient, url: str) -> Target:
    found = client.route(url)
    assert isinstance(found, Target)
    return found


@pytest.fixture
async def echo() -> AsyncIterator[tuple[str, list[bytes]]]:
    """An aiohttp server that answers every POST with its body (chunked for /chunked) and records bodies."""
    bodies: list[bytes] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        bodies.append(raw)
        if request.path == "/chunked":
            resp = web.StreamResponse()
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            for part in (raw[:3], raw[3:], b"!"):
                await resp.write(part)
            await resp.write_eof()
            return resp
        if request.path == "/gzip":
            return web.Response(body=gzip.compress(raw), headers={"Content-Encoding": "gzip"})
        if request.path == "/big":
            return web.Response(body=b"x" * 4096)
        seen = {"X-Seen": request.headers.get("X-Test", ""), "X-Agent": request.headers.get("User-Agent", "")}
        return web.Response(body=raw, headers=seen)

    runner = web.AppRunner(web.Application())
    runner.app.router.add_route("*", "/{tail:.*}", handle)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", bodies
    await runner.cleanup()


async def test_keep_alive_content_length_and_chunked_both_ways(echo: tuple[str, list[bytes]]) -> None:
    base, bodies = echo
    client = WireClient(4)
    status, headers, body = await client.request("POST", target(client, base + "/a"), {"X-Test": "1"}, b"hello", 5)
    assert (status, body, dict(headers)["X-Seen"], dict(headers)["X-Agent"]) == (200, b"hello", "1", "relay")
    _, headers, _ = await client.request("POST", target(client, base + "/a"), {"User-Agent": "crm-app"}, b"", 5)
    assert dict(headers)["X-Agent"] == "crm-app", "a caller's own User-Agent is sent instead, not beside it"
    _, _, body = await client.request("POST", target(client, base + "/chunked"), {}, b"chunked", 5)
    assert body == b"chunked!"

    async def parts() -> AsyncIterator[bytes]:
        for part in (b"str", b"eam", b"ed"):
            yield part

    _, _, body = await client.request("POST", target(client, base + "/a"), {}, parts(), 5)
    assert body == b"streamed" and bodies[-1] == b"streamed"
    _, _, body = await client.request("POST", target(client, base + "/gzip"), {}, b"packed", 5)
    assert body == b"packed"
    assert client.open == 1, "every request reused the one keep-alive connection"
    await client.close()


async def test_an_oversize_answer_is_refused(echo: tuple[str, list[bytes]]) -> None:
    base, _ = echo
    client = WireClient(2, max_answer=1024)
    with pytest.raises(WireError, match="larger than the limit"):
        await client.request("GET", target(client, base + "/big"), {}, None, 5)
    assert (await client.request("POST", target(client, base + "/a"), {}, b"small", 5))[2] == b"small"
    await client.close()


@pytest.mark.parametrize(
    "headers",
    [{"X-Evil": "a\r\nX-Injected: 1"}, {"X-Evil": "a\nb"}, {"X-Evil": "nul\x00"}, {"Bad Name": "v"}, {"X:y": "v"}],
)
async def test_header_injection_is_refused_before_anything_is_sent(headers: dict[str, str]) -> None:
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.read(100))
        writer.close()

    server, url = await raw_server(serve)
    client = WireClient(2)
    with pytest.raises(ValueError):
        await client.request("POST", target(client, url), headers, b"{}", 5)
    with pytest.raises(Unsupported):
        await client.request("POST", target(client, url), {"Content-Length": "1"}, b"{}", 5)
    with pytest.raises(Unsupported):
        await client.request("HEAD", target(client, url), {}, None, 5)
    assert client.open == 0 and seen == []
    server.close()
    await client.close()


async def test_an_idle_connection_closed_by_the_server_is_retried_only_when_safe() -> None:
    """The server answers, then closes the kept-alive connection just as the next request goes out."""
    answered = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        await read_request(reader)
        answered += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await reader.read(1)
        writer.close()

    server, url = await raw_server(serve)
    client = WireClient(2)
    where = target(client, url)
    assert (await client.request("POST", where, {}, b"1", 5))[0] == 200
    assert (await client.request("POST", where, {}, b"2", 5, idempotent=True))[0] == 200, "retried on a new one"
    with pytest.raises(Stale) as lost:
        await client.request("POST", where, {}, b"3", 5)
    assert not lost.value.unsent and answered == 2
    server.close()
    await client.close()


@pytest.mark.parametrize("partial", [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"])
async def test_slow_headers_and_a_slow_body_hit_the_timeouts(partial: bytes) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(partial)
        await reader.read()

    server, url = await raw_server(serve)
    client = WireClient(2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(WireTimeout):
        await client.request("POST", target(client, url), {}, b"{}", 10, read_timeout=0.2)
    assert loop.time() - started < 1.0, "the read timeout, not the total"
    started = loop.time()
    with pytest.raises(WireTimeout):
        await client.request("POST", target(client, url), {}, b"{}", 0.3)
    assert loop.time() - started < 1.0
    assert client.open == 0 and client.busy == 0
    server.close()
    await client.close()


async def test_the_pool_limit_holds_requests_in_line() -> None:
    open_now = peak = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_now, peak
        open_now += 1
        peak = max(peak, open_now)
        try:
            while True:
                await read_request(reader)
                await asyncio.sleep(0.02)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        finally:
            open_now -= 1

    server, url = await raw_server(serve)
    client = WireClient(2)
    where = target(client, url)
    results = await asyncio.gather(*(client.request("POST", where, {}, b"{}", 5) for _ in range(8)))
    assert [r[0] for r in results] == [200] * 8 and peak == 2 and client.busy == 0
    server.close()
    await client.close()


async def test_tls_uses_the_trust_store(tmp_path: Path) -> None:
    server_ctx, ca_file = tls_material(tmp_path)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure")
        await writer.drain()

    server, url = await raw_server(serve, server_ctx)
    url = url.replace("http:", "https:")
    untrusting = WireClient(2)
    with pytest.raises(WireError) as refused:
        await untrusting.request("POST", target(untrusting, url), {}, b"{}", 5)
    assert refused.value.unsent, "an unverified certificate: nothing was sent"
    trusting = WireClient(2, tls=ssl.create_default_context(cafile=str(ca_file)))
    assert (await trusting.request("POST", target(trusting, url), {}, b"{}", 5))[2] == b"secure"
    server.close()
    await untrusting.close()
    await trusting.close()


def test_proxies_from_the_environment_route_to_the_proxy() -> None:
    proxies = {"https": "http://p:3128", "all": "http://all:3128", "no": "internal.example,.corp"}
    assert proxy_for("https://crm.example.com/hook", proxies) == "http://p:3128"
    assert proxy_for("http://crm.example.com/hook", proxies) == "http://all:3128"
    assert proxy_for("https://internal.example/hook", proxies) is None
    assert proxy_for("https://a.corp/hook", proxies) is None
    assert proxy_for("http://127.0.0.1:9/hook", proxies) is None
    client = WireClient(2, proxies=proxies)
    assert client.route("https://crm.example.com/hook") == "http://p:3128"
    assert isinstance(client.route("https://internal.example/hook"), Target)
    assert client.route("ftp://crm.example.com/") is None


async def test_the_platform_client_maps_lean_failures_and_keeps_guarded_calls_off_it() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.close()

    server, url = await raw_server(serve)
    wire = WireClient(2)
    import aiohttp

    async with aiohttp.ClientSession() as session:
        client = PlatformClient(Sessions(session, session, session, session, wire), HostPolicy(()))
        with pytest.raises(DeliveryError) as lost:
            await client.call(Call("POST", url, body=b"{}", idempotent=True))
        assert lost.value.reason is Reason.PLATFORM_CONNECTION_LOST and lost.value.retryable
        with pytest.raises(DeliveryError) as unreachable:
            await client.call(Call("POST", "http://127.0.0.1:9/x", body=b"{}"))
        assert unreachable.value.reason is Reason.PLATFORM_UNREACHABLE
        with pytest.raises(DeliveryError) as guarded:
            await client.call(Call("POST", url, body=b"{}", hosts=("crm.example.com",)))
        assert guarded.value.reason is Reason.HOST_NOT_ALLOWED
    assert wire.open == 0
    server.close()
    await wire.close()
