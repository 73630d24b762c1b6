"""WhatsApp's own vocabulary, apart from convert.py (which would pass 300 lines with it): its text markup
<-> RichText, location and contact cards as text, file names and media types, Graph error codes -> Reasons."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from typing import Any

from relay.errors import DeliveryError
from relay.reasons import Reason
from relay.richtext import RichText, Span, Style

_MARKS = ((Style.STRIKE, "~"), (Style.ITALIC, "_"), (Style.BOLD, "*"))

_TOKEN = re.compile(
    r"(?P<pre>```(?P<pre_body>.+?)```)"
    r"|(?P<code>`(?P<code_body>[^`\n]+)`)"
    r"|(?<![\w*_~])(?P<mark>[*_~])(?P<body>[^\s*_~](?:[^\n]*?[^\s])??)(?P=mark)(?![\w*_~])",
    re.DOTALL,
)
_STYLE = {"*": Style.BOLD, "_": Style.ITALIC, "~": Style.STRIKE}
_EXT = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/aac": ".aac",
    "audio/amr": ".amr",
    "video/mp4": ".mp4",
    "video/3gpp": ".3gp",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
}


def parse(source: str, outer: Style = Style.NONE) -> RichText:
    """Incoming WhatsApp markup (*bold* _italic_ ~strike~ ```mono``` `code`) as RichText."""
    spans: list[Span] = []
    pos = 0
    for m in _TOKEN.finditer(source):
        if m.start() > pos:
            spans.append(Span(source[pos : m.start()], outer))
        if m.group("pre") is not None:
            spans.append(Span(m.group("pre_body"), outer | Style.PRE))
        elif m.group("code") is not None:
            spans.append(Span(m.group("code_body"), outer | Style.CODE))
        else:
            spans.extend(parse(m.group("body"), outer | _STYLE[m.group("mark")]).spans)
        pos = m.end()
    if pos < len(source):
        spans.append(Span(source[pos:], outer))
    return RichText(()) + RichText(tuple(spans))


def _wrap(text: str, style: Style) -> str:
    core = text.strip()
    if not core:
        return text
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    if Style.PRE in style or Style.CODE in style:
        return f"{lead}```{core}```{trail}"
    for flag, mark in _MARKS:
        if flag in style:
            core = f"{mark}{core}{mark}"
    return f"{lead}{core}{trail}"


def render(text: RichText) -> str:
    """RichText in WhatsApp's dialect; links become "label (url)" since WhatsApp has no link markup."""
    out: list[str] = []
    for s in text.spans:
        body = _wrap(s.text, s.style)
        if s.href and s.href != s.text.strip():
            body = f"{body} ({s.href})"
        elif s.href:
            body = s.href
        out.append(body)
    return "".join(out)


def dicts(value: Any) -> Iterator[dict[str, Any]]:
    """The objects in a JSON list (anything else yields nothing)."""
    if isinstance(value, list):
        yield from (v for v in value if isinstance(v, dict))


def obj(value: Any) -> dict[str, Any]:
    """A JSON object, or an empty one."""
    return value if isinstance(value, dict) else {}


def location(body: dict[str, Any]) -> RichText:
    """A shared location as its name and address and a map link."""
    lat, lng = body.get("latitude"), body.get("longitude")
    lines = [str(v) for v in (body.get("name"), body.get("address")) if isinstance(v, str) and v]
    head = "📍 " + (" - ".join(lines) if lines else "Location")
    if not isinstance(lat, int | float) or not isinstance(lng, int | float):
        return RichText.of(head)
    url = f"https://maps.google.com/?q={lat},{lng}"
    return RichText((Span(head + "\n"), Span(url, href=url)))


def contacts(value: Any) -> str:
    """Shared contact cards as lines of name, phones and e-mail addresses."""
    out: list[str] = []
    for card in dicts(value):
        name = obj(card.get("name"))
        lines = [f"👤 {name.get('formatted_name') or name.get('first_name') or 'Contact'}"]
        lines += [f"📞 {p['phone']}" for p in dicts(card.get("phones")) if isinstance(p.get("phone"), str)]
        lines += [f"✉️ {e['email']}" for e in dicts(card.get("emails")) if isinstance(e.get("email"), str)]
        out.append("\n".join(lines))
    return "\n\n".join(out) or "👤 Contact"


def file_name(kind: str, mime: str, given: str | None = None) -> str:
    """A file name for an attachment: the sender's, or the type plus an extension from the MIME type."""
    if given:
        return given
    base = mime.split(";")[0].strip().lower()
    ext = _EXT.get(base) or mimetypes.guess_extension(base) or ""
    return f"{kind}{ext}"


def media_kind(mime: str) -> str:
    """Which WhatsApp media type carries a file of this MIME type."""
    base = mime.split(";")[0].strip().lower()
    if base in ("image/jpeg", "image/png"):
        return "image"
    if base in ("video/mp4", "video/3gpp"):
        return "video"
    if base in ("audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"):
        return "audio"
    return "document"


PAIR_LIMITED = 131056
WINDOW_CLOSED = 131047
TOKEN_REJECTED = (0, 190)
# Meta's "not accepted now, try later" codes: the reason, and the wait when no Retry-After comes with it.
RETRY_SOON: dict[int, tuple[Reason, float]] = {
    130429: (Reason.THROTTLED, 1.0),
    4: (Reason.THROTTLED, 30.0),
    80007: (Reason.THROTTLED, 30.0),
    131057: (Reason.PLATFORM_BUSY, 10.0),
    1: (Reason.PLATFORM_BUSY, 2.0),
    2: (Reason.PLATFORM_BUSY, 2.0),
}
# Codes with a reason of their own; any other code is `platform_rejected` with the code as its detail.
REASONS: dict[int, Reason] = {
    0: Reason.PLATFORM_AUTH_FAILED,
    190: Reason.PLATFORM_AUTH_FAILED,
    10: Reason.PLATFORM_AUTH_FAILED,
    131005: Reason.PLATFORM_AUTH_FAILED,
    131021: Reason.INVALID_RECIPIENT,
    131030: Reason.INVALID_RECIPIENT,
    131026: Reason.RECIPIENT_UNREACHABLE,
    WINDOW_CLOSED: Reason.TEMPLATE_REQUIRED,
    131051: Reason.UNSUPPORTED,
    131052: Reason.MEDIA_UNAVAILABLE,
    131053: Reason.MEDIA_UNAVAILABLE,
    PAIR_LIMITED: Reason.PAIR_RATE_LIMITED,
} | {code: reason for code, (reason, _) in RETRY_SOON.items()}


def reason_for(code: int) -> Reason:
    """The Reason for a Graph error code (permission codes 200-299 are the token's)."""
    if 200 <= code <= 299:
        return Reason.PLATFORM_AUTH_FAILED
    return REASONS.get(code, Reason.PLATFORM_REJECTED)


def refusal(status: int, code: int | None, retry_after: float | None, pair_attempt: int = 1) -> DeliveryError:
    """A refused Graph call as a DeliveryError, retried only where Meta says "not accepted, try later"; without
    a Graph code a 5xx is not retried either (a send is not idempotent: it may have been taken)."""
    if code == PAIR_LIMITED:
        wait = retry_after or min(300.0, max(6.0, 4.0**pair_attempt))
        return DeliveryError(Reason.PAIR_RATE_LIMITED, retry_after=wait, scope="chat", detail=code)
    if code in RETRY_SOON or status == 429 or (status == 503 and retry_after):
        reason, wait = RETRY_SOON.get(code or 0, (Reason.THROTTLED, 2.0))
        return DeliveryError(reason, retry_after=retry_after or wait, scope="connector", detail=code or status)
    if code is None:
        auth = status in (401, 403)
        reason = Reason.PLATFORM_AUTH_FAILED if auth else Reason.PLATFORM_REJECTED
        return DeliveryError(reason, scope="connector" if auth else "chat", detail=status)
    reason = reason_for(code)
    return DeliveryError(reason, scope="connector" if reason is Reason.PLATFORM_AUTH_FAILED else "chat", detail=code)
