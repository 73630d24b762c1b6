"""Telegram file downloads streamed through memory; the file URL (which holds the token) stays here."""

from __future__ import annotations

import mimetypes

import aiohttp

from relay.connector import MediaStream
from relay.errors import MediaError
from relay.media import stream_response


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
    name = url.rsplit("/", 1)[-1]
    mime = mimetypes.guess_type(name)[0] or ""
    return stream_response(resp, limit, mime=mime, name=name, size=size, source="Telegram file download")
