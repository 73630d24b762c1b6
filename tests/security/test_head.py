"""HEAD never writes a body or fetches a file: on a keep-alive connection the next answer parses cleanly."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

from tests.conftest import RelayFactory
from tests.support.crm_sink import CrmSink
from tests.support.file_host import TG_HEADERS, FileHost, document, files_to_crm

# A file whose body, written after a header-only answer, would read as a second response on the connection.
SPLIT = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 20\r\n\r\n<script>1</script>..."


async def head_then_get(host: str, port: int, path: str) -> tuple[bytes, bytes, bytes]:
    """HEAD `path`, then GET /healthz on the same connection: (HEAD head, GET head, GET body)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"HEAD {path} HTTP/1.1\r\nHost: relay\r\n\r\n".encode())
        first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        await asyncio.sleep(0.5)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")
        second = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in second.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        body = await asyncio.wait_for(reader.readexactly(length), 10) if second.startswith(b"HTTP/1.1 200") else b""
        return first, second, body
    finally:
        writer.close()


async def test_head_answers_headers_only_and_fetches_nothing(
    start_relay: RelayFactory, aiohttp_server: Any, crm_sink: tuple[CrmSink, str]
) -> None:
    host = FileHost()
    api = str((await aiohttp_server(host.app())).make_url("/")).rstrip("/")
    sink, url = crm_sink
    host.add_file("f-split", "documents/split.bin", SPLIT)
    client, _ = await start_relay(files_to_crm(api, url))
    resp = await client.post(
        "/hooks/tg/", json=document(8100, "f-split", "split.bin", "text/plain"), headers=TG_HEADERS
    )
    assert resp.status == 200
    media = urlsplit(sink.received[0]["message"]["attachments"][0]["url"]).path
    server = client.server
    for path in (media, "/", "/healthz", "/readyz", "/metrics", "/hooks/webchat/"):
        first, second, body = await head_then_get(str(server.host), int(server.port or 0), path)
        assert first.startswith(b"HTTP/1.1 "), path
        assert second.startswith(b"HTTP/1.1 200 OK\r\n"), (path, second[:80])
        assert json.loads(body) == {"status": "ok"}, (path, body)
    assert host.downloads == 0
    got = await client.get(media)
    assert got.status == 200 and await got.read() == SPLIT
    assert host.downloads == 1
