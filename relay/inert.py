"""Headers that keep whatever the relay serves inert: media as downloads, pages under a strict CSP."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from urllib.parse import quote

from aiohttp import web

SNIFF_BYTES = 16
MEDIA_POLICY = "sandbox; default-src 'none'; frame-ancestors 'none'"
DOWNLOAD_TYPE = "application/octet-stream"
# What `harden` gives a non-HTML answer; an answer built with these already needs nothing from it.
HARDENED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": MEDIA_POLICY,
}

_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "audio/mp3": "audio/mpeg",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4",
}


def _riff(kind: bytes) -> Callable[[bytes], bool]:
    return lambda head: head[:4] == b"RIFF" and head[8:12] == kind


def _prefix(*magic: bytes) -> Callable[[bytes], bool]:
    return lambda head: head.startswith(magic)


def _mpeg(head: bytes) -> bool:
    return head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


def _isobmff(head: bytes) -> bool:
    return head[4:8] == b"ftyp"


# Types a browser may show in place, each with the check its first bytes must pass.
INLINE: dict[str, Callable[[bytes], bool]] = {
    "image/png": _prefix(b"\x89PNG\r\n\x1a\n"),
    "image/jpeg": _prefix(b"\xff\xd8\xff"),
    "image/gif": _prefix(b"GIF87a", b"GIF89a"),
    "image/webp": _riff(b"WEBP"),
    "audio/mpeg": _mpeg,
    "audio/ogg": _prefix(b"OggS"),
    "audio/wav": _riff(b"WAVE"),
    "audio/webm": _prefix(b"\x1a\x45\xdf\xa3"),
    "audio/mp4": _isobmff,
    "audio/aac": _prefix(b"\xff\xf1", b"\xff\xf9"),
    "video/mp4": _isobmff,
    "video/quicktime": _isobmff,
    "video/webm": _prefix(b"\x1a\x45\xdf\xa3"),
    "video/ogg": _prefix(b"OggS"),
}


def media_type(mime: str) -> str:
    """The bare, lower-case type of a Content-Type value, with common aliases resolved."""
    bare = mime.split(";", 1)[0].strip().lower()
    return _ALIASES.get(bare, bare)


def shown_inline(mime: str, head: bytes) -> bool:
    """True only for an allowlisted image, audio or video type whose first bytes match it."""
    check = INLINE.get(media_type(mime))
    return check is not None and check(head)


_WELL_FORMED = re.compile(r"^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*$")
_ACTIVE = ("html", "xml", "script", "svg")


def download_type(mime: str, mislabelled: bool = False) -> str:
    """The type a download is labelled with: the sender's if it is plain data, never markup or script,
    nor a media type its bytes contradict."""
    bare = media_type(mime)
    if mislabelled or not _WELL_FORMED.match(bare) or any(word in bare for word in _ACTIVE):
        return DOWNLOAD_TYPE
    top = bare.split("/", 1)[0]
    return bare if top in ("application", "image", "audio", "video", "font") or bare == "text/plain" else DOWNLOAD_TYPE


_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f"\\;]')


def safe_filename(name: str, limit: int = 100) -> str:
    """A sender's file name reduced to a plain base name: no path, quotes or control characters."""
    base = re.split(r"[/\\]", name)[-1]
    base = _UNSAFE_NAME.sub("_", base).strip(" .")
    if len(base) > limit:
        stem, dot, ext = base.rpartition(".")
        base = f"{stem[: limit - len(ext) - 1]}.{ext}" if dot and 0 < len(ext) <= 10 else base[:limit]
    return base or "file"


def disposition(kind: str, name: str) -> str:
    """A Content-Disposition value with an ASCII filename and the UTF-8 original (RFC 6266)."""
    clean = safe_filename(name)
    ascii_name = clean.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(clean, safe='')}"


def media_headers(mime: str, name: str, head: bytes) -> dict[str, str]:
    """Headers for a relayed file: inline only for a sniffed image/audio/video, otherwise a download."""
    inline = shown_inline(mime, head)
    return {
        "Content-Type": media_type(mime) if inline else download_type(mime, mislabelled=media_type(mime) in INLINE),
        "Content-Disposition": disposition("inline" if inline else "attachment", name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": MEDIA_POLICY,
        "Cache-Control": "no-store",
    }


_SCRIPT = re.compile(rb"<script(?:\s[^>]*)?>(.*?)</script\s*>", re.S | re.I)
_STYLE = re.compile(rb"<style(?:\s[^>]*)?>(.*?)</style\s*>", re.S | re.I)


def _hashes(blocks: list[bytes]) -> str:
    found = []
    for block in blocks:
        digest = hashlib.sha256(block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")).digest()
        found.append(f"'sha256-{base64.b64encode(digest).decode()}'")
    return " ".join(dict.fromkeys(found)) or "'none'"


def page_policy(body: bytes) -> str:
    """A CSP for one HTML page allowing exactly its own inline scripts and styles (by hash)."""
    return (
        f"default-src 'none'; script-src {_hashes(_SCRIPT.findall(body))}; style-src {_hashes(_STYLE.findall(body))}; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


async def harden(request: web.Request, response: web.StreamResponse) -> None:
    """Response hook for every answer: nosniff, no referrer, and a CSP (per-page hashes for HTML)."""
    headers = response.headers
    if "Content-Security-Policy" in headers and "Referrer-Policy" in headers and "X-Content-Type-Options" in headers:
        return
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if "Content-Security-Policy" in headers:
        return
    body = response.body if isinstance(response, web.Response) else None
    if response.content_type == "text/html" and isinstance(body, bytes):
        headers["Content-Security-Policy"] = page_policy(body)
        headers.setdefault("X-Frame-Options", "DENY")
    else:
        headers["Content-Security-Policy"] = MEDIA_POLICY
