"""The CRM sink and a fake Telegram Bot API in one process: `python -m bench.sink PORT CRM_PORT`.

CRM_PORT is a bare asyncio HTTP/1.1 server, so the sink is never the bottleneck: every POST is
answered 200 and counted (the X-Relay-Signature header must be present; it is not recomputed).
On PORT, /control/* holds or releases the answers and reports counters, and /bot<token>/<method>
and /file/bot<token>/<path> play the Bot API, serving a generated file from memory."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from typing import Any

import aiohttp
from aiohttp import web

FILE_SIZE = 20 * 1024 * 1024
CHUNK = b"\x5a" * (64 * 1024)
FILE_ID = "BENCHFILE"


OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'


class CrmProtocol(asyncio.Protocol):
    """One keep-alive connection from the relay or the baseline to the CRM endpoint."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).lower()
            at = head.find(b"content-length:")
            length = (
                int(head[at + 15 : head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None]) if at >= 0 else 0
            )
            if len(self.buf) < end + 4 + length:
                return
            body = bytes(self.buf[end + 4 : end + 4 + length])
            del self.buf[: end + 4 + length]
            self.sink.count(b"x-relay-signature:" in head, body)
            if self.sink.gate.is_set():
                assert self.transport is not None
                self.transport.write(OK)
            else:
                self.sink.pending += 1
                self.sink.held.append(self)

    def answer(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(OK)


class Sink:
    """Counters and the hold gate; no message content is kept."""

    def __init__(self) -> None:
        self.received = 0
        self.unsigned = 0
        self.pending = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.media: dict[str, Any] = {}
        self.session: aiohttp.ClientSession | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.held: list[CrmProtocol] = []

    def count(self, signed: bool, body: bytes) -> None:
        self.received += 1
        if not signed:
            self.unsigned += 1
        if b'"url"' in body:
            task = asyncio.create_task(self.fetch(json.loads(body)["message"]["attachments"][0]["url"]))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def fetch(self, url: str) -> None:
        """Stream a relay media link like a CRM would, counting bytes and discarding them."""
        assert self.session is not None
        self.media = {"bytes": 0, "status": 0, "done": False, "seconds": 0.0}
        started = time.monotonic()
        try:
            async with self.session.get(url) as resp:
                self.media["status"] = resp.status
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    self.media["bytes"] += len(chunk)
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.media["error"] = type(exc).__name__
        self.media["seconds"] = time.monotonic() - started
        self.media["done"] = True

    async def stats(self, request: web.Request) -> web.Response:
        body = {"received": self.received, "unsigned": self.unsigned, "pending": self.pending, "media": self.media}
        return web.json_response(body)

    async def hold(self, request: web.Request) -> web.Response:
        self.gate.clear()
        return web.json_response({"ok": True})

    async def release(self, request: web.Request) -> web.Response:
        self.gate.set()
        held, self.held, self.pending = self.held, [], 0
        for proto in held:
            proto.answer()
        return web.json_response({"ok": True})

    async def bot(self, request: web.Request) -> web.Response:
        """The few Bot API methods the relay calls at start-up and for media."""
        method = request.match_info["method"]
        result: Any = True
        if method == "getMe":
            result = {"id": 123456789, "is_bot": True, "first_name": "Bench", "username": "bench_bot"}
        elif method == "getWebhookInfo":
            result = {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        elif method == "getFile":
            result = {
                "file_id": FILE_ID,
                "file_unique_id": "benchfileuniq",
                "file_size": FILE_SIZE,
                "file_path": "documents/bench.bin",
            }
        elif method not in ("setWebhook", "deleteWebhook"):
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.json_response({"ok": True, "result": result})

    async def file(self, request: web.Request) -> web.StreamResponse:
        """A FILE_SIZE-byte file generated in memory, streamed in 64 KiB chunks."""
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        resp.content_length = FILE_SIZE
        await resp.prepare(request)
        left = FILE_SIZE
        while left > 0:
            piece = CHUNK if left >= len(CHUNK) else CHUNK[:left]
            await resp.write(piece)
            left -= len(piece)
        await resp.write_eof()
        return resp


async def traces(request: web.Request) -> web.Response:
    """An OTLP/HTTP trace receiver that reads and drops the batch (an empty ExportTraceServiceResponse)."""
    await request.read()
    return web.Response(body=b"", content_type="application/x-protobuf")


def app(crm_port: int) -> web.Application:
    sink = Sink()
    application = web.Application()
    application.router.add_get("/control/stats", sink.stats)
    application.router.add_post("/control/hold", sink.hold)
    application.router.add_post("/control/release", sink.release)
    application.router.add_route("*", "/bot{token}/{method}", sink.bot)
    application.router.add_get("/file/bot{token}/{path:.+}", sink.file)
    application.router.add_post("/v1/traces", traces)

    async def lifecycle(_: web.Application) -> Any:
        sink.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: CrmProtocol(sink), "127.0.0.1", crm_port, backlog=4096)
        yield
        server.close()
        for task in list(sink.tasks):
            task.cancel()
        await sink.session.close()

    application.cleanup_ctx.append(lifecycle)
    return application


if __name__ == "__main__":
    web.run_app(app(int(sys.argv[2])), host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
