"""Telegram file downloads streamed through memory; the file URL (which holds the token) stays here."""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator

import aiohttp

from relay.connector import MediaStream
from relay.errors import MediaError
from relay.media import capped


async def download(session: aiohttp.ClientSession, url: str, limit: int, size: int | None) -> MediaStream:
    """Open a Telegram file URL as a capped stream; errors name no URL."""
    if size is not None and size > limit:
        raise MediaError(f"file is larger than the {limit}-byte cap")
    if not url.startswith(("https://", "http://")):
        raise MediaError("Telegram gave no downloadable path for the file")
    try:
        resp = await session.get(url, allow_redirects=False)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise MediaError(f"Telegram file download failed ({type(exc).__name__})") from None
    if resp.status != 200:
        resp.release()
        raise MediaError(f"Telegram file download answered {resp.status}")
    if resp.content_length is not None and resp.content_length > limit:
        resp.release()
        raise MediaError(f"file is larger than the {limit}-byte cap")

    async def chunks() -> AsyncIterator[bytes]:
        try:
            async for chunk in resp.content.iter_chunked(64 * 1024):
                yield chunk
        finally:
            resp.release()

    name = url.rsplit("/", 1)[-1]
    mime = mimetypes.guess_type(name)[0] or ""
    return MediaStream(mime, capped(chunks(), limit), resp.content_length or size, name)
