"""Media through memory: sealed relay links, size-capped streaming, allowlisted fetches."""

from __future__ import annotations

import fnmatch
from collections.abc import AsyncIterator, Callable, Sequence
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from relay.connector import Connector, MediaStream
from relay.errors import AuthError, MediaError
from relay.model import Attachment
from relay.netguard import REASON, refused
from relay.seal import Sealer


def host_allowed(url: str, allowlist: Sequence[str]) -> bool:
    """True if the URL is http(s) and its host[:port] matches an allowlist pattern."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return False
    host = parts.hostname.lower()
    hostport = f"{host}:{parts.port}" if parts.port else host
    return any(fnmatch.fnmatchcase(hostport, p.lower()) or fnmatch.fnmatchcase(host, p.lower()) for p in allowlist)


async def capped(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """Pass chunks through, raising MediaError once more than `limit` bytes went by."""
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise MediaError(f"file is larger than the {limit}-byte cap")
        yield chunk


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def response_chunks(resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The body of an HTTP response in 64 KiB chunks; the response is released at the end."""
    try:
        async for chunk in resp.content.iter_chunked(64 * 1024):
            yield chunk
    finally:
        resp.release()


def stream_response(
    resp: aiohttp.ClientResponse,
    limit: int,
    *,
    mime: str,
    name: str = "file",
    size: int | None = None,
    source: str = "file host",
) -> MediaStream:
    """An open response as a capped MediaStream; a non-200 or oversized answer is released and refused."""
    if resp.status != 200:
        resp.release()
        raise MediaError(f"{source} answered HTTP {resp.status}")
    if resp.content_length is not None and resp.content_length > limit:
        resp.release()
        raise MediaError(f"file is larger than the {limit}-byte cap")
    return MediaStream(mime, capped(response_chunks(resp), limit), resp.content_length or size, name)


class MediaService:
    """Makes relay media links and reads attachments into memory, never to disk."""

    def __init__(
        self,
        sealer: Sealer,
        session: aiohttp.ClientSession,
        public_url: str,
        allowlist: Sequence[str],
        max_bytes: int,
        link_ttl: int,
        connectors: Callable[[str], Connector | None],
    ) -> None:
        self.sealer = sealer
        self.session = session
        self.public_url = public_url.rstrip("/")
        self.allowlist = tuple(allowlist)
        self.max_bytes = max_bytes
        self.link_ttl = link_ttl
        self._connectors = connectors

    def link(self, attachment: Attachment) -> str | None:
        """A relay URL for a platform file, or None if the attachment has no platform file."""
        if attachment.ref is None:
            return None
        token = self.sealer.seal_media(attachment.ref, attachment.name, attachment.mime, attachment.size, self.link_ttl)
        return f"{self.public_url}/media/{token}"

    async def stream(self, attachment: Attachment, limit: int | None = None) -> MediaStream:
        """Open an attachment as a capped stream of chunks."""
        cap = min(limit or self.max_bytes, self.max_bytes)
        if attachment.data is not None:
            if len(attachment.data) > cap:
                raise MediaError(f"file is larger than the {cap}-byte cap")
            return MediaStream(attachment.mime, _once(attachment.data), len(attachment.data), attachment.name)
        if attachment.ref is not None:
            connector = self._connectors(attachment.ref.instance)
            if connector is None:
                raise MediaError("the connector holding this file is not running")
            found = await connector.fetch_media(attachment.ref.file_id, cap)
            found.chunks = capped(found.chunks, cap)
            return found
        if attachment.url is not None:
            return await self.fetch_url(attachment.url, cap, attachment.mime, attachment.name)
        raise MediaError("attachment has no data, file or URL")

    async def read(self, attachment: Attachment, limit: int | None = None) -> bytes:
        """The whole attachment in memory, capped."""
        found = await self.stream(attachment, limit)
        return b"".join([chunk async for chunk in found.chunks])

    async def fetch_url(self, url: str, limit: int, mime: str, name: str) -> MediaStream:
        """GET an allowlisted URL (no redirects) as a capped stream."""
        if not host_allowed(url, self.allowlist):
            raise MediaError("attachment URL host is not in media.allowlist")
        try:
            resp = await self.session.get(url, allow_redirects=False)
        except (aiohttp.ClientError, TimeoutError) as exc:
            if refused(exc):
                raise MediaError(f"attachment URL refused: {REASON}") from None
            raise MediaError(f"attachment URL could not be fetched ({type(exc).__name__})") from None
        return stream_response(resp, limit, mime=resp.content_type or mime, name=name, source="attachment URL")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET /media/{token}: authenticate the sealed token, then stream the file from its platform."""
        try:
            sealed = self.sealer.open_media(request.match_info["token"])
        except AuthError as exc:
            raise web.HTTPForbidden(text=exc.reason) from None
        connector = self._connectors(sealed.ref.instance)
        if connector is None:
            raise web.HTTPNotFound(text="the connector holding this file is not running")
        try:
            found = await connector.fetch_media(sealed.ref.file_id, self.max_bytes)
        except MediaError as exc:
            raise web.HTTPBadGateway(text=str(exc)) from None
        resp = web.StreamResponse(headers={"Content-Type": found.mime or sealed.mime, "Cache-Control": "no-store"})
        if found.size is not None:
            resp.content_length = found.size
        await resp.prepare(request)
        try:
            async for chunk in capped(found.chunks, self.max_bytes):
                await resp.write(chunk)
        except MediaError:
            if request.transport is not None:
                request.transport.close()
            return resp
        await resp.write_eof()
        return resp
