"""Files a CRM names by URL: fetched once before a messenger send (media.allowlist, no private address,
streamed, capped), then uploaded by the connector or shown through a sealed relay link, never the URL."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from relay.connector import Capabilities
from relay.errors import DeliveryError, MediaError
from relay.media import URL_SOURCE, MediaService, close_chunks
from relay.model import Attachment, MediaRef, Message
from relay.reasons import Reason

_UNTYPED = "application/octet-stream"


def named_by_url(message: Message) -> bool:
    """Whether a file of the message is known only by its URL (not yet fetched)."""
    return any(a.url is not None and a.ref is None and a.data is None for a in message.attachments)


async def fetch_named(media: MediaService, message: Message, caps: Capabilities) -> Message:
    """The message with each file named by URL fetched once: its bytes kept for an upload when the
    messenger takes files (up to media.max_bytes held per message; a file beyond that is fetched again
    when uploaded), and a reference the relay's sealed links serve in place of the URL. DeliveryError
    with a Reason (host_not_allowed, file_too_large, media_unavailable) when a file cannot be had."""
    if not named_by_url(message):
        return message
    budget = media.max_bytes if caps.files else 0
    files: list[Attachment] = []
    for att in message.attachments:
        if att.url is not None and att.ref is None and att.data is None:
            att = await _fetch(media, att, min(caps.max_file_bytes, budget))
            budget -= len(att.data or b"")
        files.append(att)
    return message.with_(attachments=tuple(files))


async def _fetch(media: MediaService, att: Attachment, keep: int) -> Attachment:
    """One file read through, its bytes held only while they fit `keep`."""
    assert att.url is not None
    url = att.url
    found = None
    held: list[bytes] | None = []
    size = 0
    try:
        async with asyncio.timeout(media.fetch_timeout):
            found = await media.fetch_url(url, media.max_bytes, att.mime, att.name)
            async for chunk in found.chunks:
                size += len(chunk)
                if held is not None and size <= keep:
                    held.append(chunk)
                else:
                    held = None
    except TimeoutError:
        raise DeliveryError(Reason.MEDIA_UNAVAILABLE, detail="timeout") from None
    except MediaError as exc:
        detail = f"HTTP {exc.status}" if exc.status else None
        raise DeliveryError(exc.failure, detail=detail, retryable=False) from None
    finally:
        if found is not None:
            await close_chunks(found.chunks)
    mime = att.mime if att.mime != _UNTYPED else (found.mime or _UNTYPED)
    data = b"".join(held) if held is not None and size else None
    return replace(att, mime=mime, size=size, data=data, ref=MediaRef(URL_SOURCE, url), url=None)
