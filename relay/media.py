"""Media through memory: sealed relay links, size-capped streaming, allowlisted fetches."""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import AsyncIterator, Callable, Sequence
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from relay.errors import AuthError, MediaError
from relay.inert import SNIFF_BYTES, media_headers
from relay.model import Attachment
from relay.netguard import REASON, refused
from relay.reasons import Reason
from relay.seal import SealedMedia, Sealer
from relay.stream import MediaSource, MediaStream

URL_SOURCE = "relay:url"


def host_allowed(url: str, allowlist: Sequence[str]) -> bool:
    """True if the URL is http(s) and its host[:port] matches an allowlist pattern."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return False
    host = parts.hostname.lower()
    hostport = f"{host}:{parts.port}" if parts.port else host
    return any(fnmatch.fnmatchcase(hostport, p.lower()) or fnmatch.fnmatchcase(host, p.lower()) for p in allowlist)


class _Capped:
    """Chunks passed through until more than `limit` bytes went by (then MediaError); closing it closes
    the source, so an upstream response is released even if the stream was never read."""

    def __init__(self, chunks: AsyncIterator[bytes], limit: int) -> None:
        self._chunks = chunks
        self._limit = limit
        self._seen = 0

    def __aiter__(self) -> _Capped:
        return self

    async def __anext__(self) -> bytes:
        chunk = await anext(self._chunks)
        self._seen += len(chunk)
        if self._seen > self._limit:
            await close_chunks(self._chunks)
            raise MediaError(f"file is larger than the {self._limit}-byte cap", failure=Reason.FILE_TOO_LARGE)
        return chunk

    async def aclose(self) -> None:
        await close_chunks(self._chunks)


def capped(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """Pass chunks through, raising MediaError once more than `limit` bytes went by."""
    return _Capped(chunks, limit)


async def close_chunks(chunks: AsyncIterator[bytes]) -> None:
    """Close a chunk stream (and the upstream response under it) whether or not it was read to the end."""
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


class _ResponseChunks:
    """The body of an HTTP response in 64 KiB chunks; the response goes back to its pool at the end, on
    an error, or when closed early (then its connection is dropped, not reused half-read)."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp

    def __aiter__(self) -> _ResponseChunks:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await self._resp.content.read(64 * 1024)
        except BaseException:
            self._resp.close()
            raise
        if not chunk:
            self._resp.release()
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        if self._resp.content.at_eof():
            self._resp.release()
        else:
            self._resp.close()


def response_chunks(resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The body of an HTTP response as chunks; the response is released at the end or when closed."""
    return _ResponseChunks(resp)


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
        raise MediaError(f"{source} answered HTTP {resp.status}", status=resp.status)
    if resp.content_length is not None and resp.content_length > limit:
        resp.release()
        raise MediaError(f"file is larger than the {limit}-byte cap", failure=Reason.FILE_TOO_LARGE)
    return MediaStream(mime, capped(response_chunks(resp), limit), resp.content_length or size, name)


class MediaService:
    """Makes relay media links and reads attachments into memory, never to disk.

    `session` is the media pool for URLs taken from platform or CRM data (guarded against private
    addresses), `trusted` the one for file hosts the admin configured; both apart from the pool
    deliveries use. `max_streams` caps concurrent /media downloads and `fetch_timeout` bounds each
    fetch and stream in total."""

    def __init__(
        self,
        sealer: Sealer,
        session: aiohttp.ClientSession,
        public_url: str,
        allowlist: Sequence[str],
        max_bytes: int,
        link_ttl: int,
        connectors: Callable[[str], MediaSource | None],
        max_streams: int = 32,
        fetch_timeout: float = 120.0,
        trusted: aiohttp.ClientSession | None = None,
    ) -> None:
        self.sealer = sealer
        self.session = session
        self.trusted = trusted or session
        self.public_url = public_url.rstrip("/")
        self.allowlist = tuple(allowlist)
        self.max_bytes = max_bytes
        self.link_ttl = link_ttl
        self._connectors = connectors
        self.max_streams = max_streams
        self.fetch_timeout = fetch_timeout
        self.active = 0

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
                raise MediaError(f"file is larger than the {cap}-byte cap", failure=Reason.FILE_TOO_LARGE)
            return MediaStream(attachment.mime, _once(attachment.data), len(attachment.data), attachment.name)
        if attachment.ref is not None:
            connector = self.source(attachment.ref.instance)
            if connector is None:
                raise MediaError("the connector holding this file is not running")
            found = await connector.fetch_media(attachment.ref.file_id, cap)
            found.chunks = capped(found.chunks, cap)
            return found
        if attachment.url is not None:
            return await self.fetch_url(attachment.url, cap, attachment.mime, attachment.name)
        raise MediaError("attachment has no data, file or URL")

    async def read(self, attachment: Attachment, limit: int | None = None) -> bytes:
        """The whole attachment in memory, capped, within media.fetch_timeout."""
        found: MediaStream | None = None
        try:
            async with asyncio.timeout(self.fetch_timeout):
                found = await self.stream(attachment, limit)
                return b"".join([chunk async for chunk in found.chunks])
        except TimeoutError:
            raise MediaError(f"file took longer than media.fetch_timeout ({self.fetch_timeout:g} s)") from None
        finally:
            if found is not None:
                await close_chunks(found.chunks)

    def source(self, instance: str) -> MediaSource | None:
        """What holds a file: the connector instance, or the relay itself for a file named by URL."""
        return self if instance == URL_SOURCE else self._connectors(instance)

    async def fetch_media(self, file_id: str, limit: int) -> MediaStream:
        """A file named by URL (`file_id`), fetched again for each download under the allowlist."""
        return await self.fetch_url(file_id, limit, "application/octet-stream", "file")

    async def fetch_url(self, url: str, limit: int, mime: str, name: str) -> MediaStream:
        """GET an allowlisted URL (no redirects) as a capped stream."""
        if not host_allowed(url, self.allowlist):
            raise MediaError("attachment URL host is not in media.allowlist", failure=Reason.HOST_NOT_ALLOWED)
        try:
            resp = await self.session.get(url, allow_redirects=False)
        except (aiohttp.ClientError, TimeoutError) as exc:
            if refused(exc):
                raise MediaError(f"attachment URL refused: {REASON}", failure=Reason.HOST_NOT_ALLOWED) from None
            raise MediaError(f"attachment URL could not be fetched ({type(exc).__name__})") from None
        return stream_response(resp, limit, mime=resp.content_type or mime, name=name, source="attachment URL")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET /media/{token}: authenticate the sealed token, then stream the file from its platform."""
        try:
            sealed = self.sealer.open_media(request.match_info["token"])
        except AuthError as exc:
            raise web.HTTPForbidden(text=exc.reason) from None
        connector = self.source(sealed.ref.instance)
        if connector is None:
            raise web.HTTPNotFound(text="the connector holding this file is not running")
        if self.active >= self.max_streams:
            return busy(self.max_streams)
        self.active += 1
        try:
            return await serve(request, connector, sealed, self.max_bytes, self.fetch_timeout)
        finally:
            self.active -= 1


def busy(limit: int) -> web.Response:
    """503 + Retry-After when media.max_streams downloads are already running."""
    return web.json_response(
        {"error": f"{limit} media downloads are running (media.max_streams); retry shortly", "reason": "media_busy"},
        status=503,
        headers={"Retry-After": "5"},
    )


async def _head(chunks: AsyncIterator[bytes]) -> bytes:
    """The first bytes of a stream (at least SNIFF_BYTES unless it is shorter), for type sniffing."""
    head = b""
    while len(head) < SNIFF_BYTES:
        try:
            head += await anext(chunks)
        except StopAsyncIteration:
            break
    return head


async def serve(
    request: web.Request, connector: MediaSource, sealed: SealedMedia, limit: int, deadline: float
) -> web.StreamResponse:
    """Stream one file to the client as an inert response, within `deadline` seconds in total; the
    upstream response is released on every path (end, error, cap, timeout, client gone, cancel)."""
    found: MediaStream | None = None
    resp: web.StreamResponse | None = None
    try:
        async with asyncio.timeout(deadline):
            found = await connector.fetch_media(sealed.ref.file_id, limit)
            chunks = found.chunks = capped(found.chunks, limit)
            head = await _head(chunks)
            resp = web.StreamResponse(headers=media_headers(found.mime or sealed.mime, sealed.name, head))
            if found.size is not None:
                resp.content_length = found.size
            await resp.prepare(request)
            await resp.write(head)
            async for chunk in chunks:
                await resp.write(chunk)
            await resp.write_eof()
    except (ConnectionError, MediaError, aiohttp.ClientError, TimeoutError) as exc:
        if resp is None:
            raise _gateway_error(exc) from None
        _cut(request)
    finally:
        if found is not None:
            await close_chunks(found.chunks)
    assert resp is not None, "every failure before the headers raised above"
    return resp


def _gateway_error(exc: BaseException) -> web.HTTPException:
    """502/504 with a reason (never a URL) for a file that failed before any byte was sent."""
    if isinstance(exc, TimeoutError):
        return web.HTTPGatewayTimeout(text="file took longer than media.fetch_timeout")
    if isinstance(exc, MediaError):
        return web.HTTPBadGateway(text=str(exc))
    return web.HTTPBadGateway(text=f"file could not be fetched ({type(exc).__name__})")


def _cut(request: web.Request) -> None:
    """Drop the client connection mid-body so a partial file is never taken for a whole one."""
    if request.transport is not None:
        request.transport.abort()
