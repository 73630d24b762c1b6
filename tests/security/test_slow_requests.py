"""Half-sent requests are bounded: headers must arrive within server.header_timeout (slowloris) and a body
within server.body_timeout (slow POST); then the connection is closed. Kept-alive idle connections are not
affected."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from relay import config
from relay.app import create_app
from tests.conftest import RelayFactory, webhook_workspace
from tests.state.conftest import free_port

HEAD = b"POST /hooks/crm HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sent until it closed the connection (a reset counts); fails if it is still open
    after `seconds`."""
    try:
        return await asyncio.wait_for(reader.read(), seconds)
    except ConnectionResetError:
        return b""


async def test_a_slow_body_gets_408_and_the_connection_closes(
    start_relay: RelayFactory, crm_sink: Any, caplog: pytest.LogCaptureFixture
) -> None:
    raw = webhook_workspace(crm_sink[1])
    raw["server"] = {"body_timeout": 0.5}
    client, _ = await start_relay(raw)
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        started = time.monotonic()
        writer.write(HEAD + b"Content-Length: 1000\r\n\r\n" + b'{"type": "mess')
        reply = await closed_within(reader, 3.0)
        assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
        assert b"request body not received within 0.5 s" in reply
        assert time.monotonic() - started < 2.5
    finally:
        writer.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.fixture
async def guarded_server(crm_sink: Any) -> AsyncIterator[tuple[str, int, list[int]]]:
    """The relay on a real port behind the header deadline (0.5 s); yields (host, port, expiries)."""
    from relay.deadline import guarded_site

    raw = webhook_workspace(crm_sink[1])
    raw["server"] = {"header_timeout": 0.5}
    loaded = config.parse(raw, "<test>")
    runner = web.AppRunner(await create_app(loaded), access_log=None)
    await runner.setup()
    expired: list[int] = []
    site = guarded_site(runner, "127.0.0.1", 0, loaded.relay.server.header_timeout, lambda: expired.append(1))
    await site.start()
    try:
        yield "127.0.0.1", site.port, expired
    finally:
        await runner.cleanup()


async def test_200_half_sent_requests_are_closed_within_the_bound(guarded_server: tuple[str, int, list[int]]) -> None:
    host, port, expired = guarded_server
    conns = [await asyncio.open_connection(host, port) for _ in range(200)]
    started = time.monotonic()
    for i, (_, writer) in enumerate(conns):
        if i % 3 == 0:
            writer.write(HEAD + b"X-Never-Ends: ")
        elif i % 3 == 1:
            writer.write(b"G")

    async def trickle(writer: asyncio.StreamWriter) -> None:
        for byte in (b"GET /healthz HTTP/1.1\r\nHost: relay\r\nX-Slow: " + b"a" * 100)[1:]:
            if writer.is_closing():
                return
            writer.write(bytes([byte]))
            await asyncio.sleep(0.05)

    trickles = [asyncio.create_task(trickle(w)) for i, (_, w) in enumerate(conns) if i % 3 == 1]
    try:
        replies = await asyncio.gather(*(closed_within(r, 3.0) for r, _ in conns))
    finally:
        for task in trickles:
            task.cancel()
        for _, writer in conns:
            writer.close()
    assert time.monotonic() - started < 2.0
    assert all(b"200 OK" not in r for r in replies)
    assert len(expired) == 200


async def test_kept_alive_connections_may_idle_between_requests(guarded_server: tuple[str, int, list[int]]) -> None:
    host, port, expired = guarded_server
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for _ in range(2):
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")
            assert (await reader.readuntil(b'{"status": "ok"}')).startswith(b"HTTP/1.1 200")
            await asyncio.sleep(1.0)
        body = b'{"type": "message"}'
        writer.write(HEAD + b"Content-Length: %d\r\n\r\n" % len(body))
        await asyncio.sleep(0.3)
        writer.write(body)
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 401")
        await reader.readuntil(b"}")
        await asyncio.sleep(1.0)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")
        assert (await reader.readuntil(b'{"status": "ok"}')).startswith(b"HTTP/1.1 200")
    finally:
        writer.close()
    assert expired == []


def _http_get(port: int, path: str) -> tuple[int, str]:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def _until_closed(sock: socket.socket, seconds: float) -> bytes:
    sock.settimeout(seconds)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


@pytest.mark.timeout(60)
def test_relay_run_applies_the_configured_deadlines(tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "relay.toml"
    cfg.write_text(
        '[server]\nheader_timeout = 1.0\nbody_timeout = 1.0\nevent_loop = "uvloop"\n'
        '[workspace]\nkeys = [{ id = "k1", secret = "workspace-key-0123456789abcdef" }]\n'
        '[connectors.crm]\ntype = "webhook"\nurl = "http://127.0.0.1:9/"\nsecret = "webhook-secret-0123456789"\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "relay.cli", "run", "--config", str(cfg), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                if _http_get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", port)) as slowloris:
            slowloris.sendall(HEAD + b"X-Never-Ends: ")
            started = time.monotonic()
            assert _until_closed(slowloris, 5.0) == b""
            assert time.monotonic() - started < 2.5
        with socket.create_connection(("127.0.0.1", port)) as slow_post:
            slow_post.sendall(HEAD + b"Content-Length: 1000\r\n\r\n{")
            started = time.monotonic()
            assert _until_closed(slow_post, 5.0).startswith(b"HTTP/1.1 408")
            assert time.monotonic() - started < 2.5
        status, text = _http_get(port, "/metrics")
        assert status == 200 and 'relay_rejected_total{connector="server",reason="header_timeout"} 1' in text
    finally:
        proc.terminate()
        proc.wait(10)
