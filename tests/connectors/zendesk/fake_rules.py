"""SunCo's documented checks on what the fake is sent: API keys, error bodies, metadata, content, uploads."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import jwt
from aiohttp import web

MAX_JSON = 100 * 1024
MAX_UPLOAD = 50 << 20


def err(status: int, code: str, title: str) -> web.Response:
    return web.json_response({"errors": [{"code": code, "title": title}]}, status=status)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def flat_small(meta: Any) -> bool:
    """SunCo metadata: a flat object of strings, numbers and booleans, at most 4 KB."""
    if meta is None:
        return True
    scalars = all(isinstance(v, str | int | float | bool) for v in meta.values()) if isinstance(meta, dict) else False
    return scalars and len(json.dumps(meta)) <= 4096


def form_file(content_type: str, raw: bytes, name: str) -> tuple[bytes, str, str] | None:
    """(bytes, mime, filename) of the multipart/form-data file field `name` (the base has read the body)."""
    if not content_type.startswith("multipart/form-data"):
        return None
    parsed = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    for part in parsed.iter_parts():
        if part.get_param("name", header="content-disposition") == name:
            data = part.get_payload(decode=True)
            mime = part.get_content_type()
            return (data if isinstance(data, bytes) else b""), mime, part.get_filename() or "file"
    return None


def api_key(header: str, keys: dict[str, tuple[str, str | None]]) -> str | None:
    """The id of the known key a request authenticates with: Basic key id:secret, or an HS256 JWT whose kid
    is a known key and whose scope is app or account."""
    key: str | None = None
    if header.startswith("Basic "):
        key_id, _, given = base64.b64decode(header[6:] + "==").decode(errors="replace").partition(":")
        known = keys.get(key_id)
        key = key_id if known and secrets.compare_digest(given, known[0]) else None
    elif header.startswith("Bearer "):
        try:
            token = header[7:]
            kid = str(jwt.get_unverified_header(token).get("kid"))
            claims = jwt.decode(token, keys[kid][0], algorithms=["HS256"])
            key = kid if claims.get("scope") in ("app", "account") else None
        except (jwt.PyJWTError, KeyError):
            key = None
    return key


def bad_content(content: Any) -> str | None:
    """Why a message's content is refused (None: it is fine)."""
    if not isinstance(content, dict):
        return "content is required"
    kind = content.get("type")
    if kind == "text":
        text = content.get("text") or content.get("markdownText") or content.get("htmlText")
        if not isinstance(text, str) or not text:
            return "text is required"
        if any(len(content.get(k) or "") > 4096 for k in ("text", "markdownText", "htmlText")):
            return "text must be at most 4096 characters"
        return None
    if kind in ("image", "file"):
        return None if isinstance(content.get("mediaUrl"), str) else "mediaUrl is required"
    return f"content type {kind!r} is not supported by this fake"
