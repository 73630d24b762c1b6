"""The call-event webhooks: the generic form signed with X-Relay-Signature (HMAC-SHA256 in hex, or base64url as
a SIP server's crypto module writes it), and Twilio Voice callbacks signed with X-Twilio-Signature over the
relay's public URL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import ValidationError

from connectors.calls import convert
from relay.connector import HookRequest, Inbound
from relay.credential import header_credential, same
from relay.errors import AuthError, BadRequest
from relay.http import parse_json

SIGNATURE = "X-Relay-Signature"
TWILIO_SIGNATURE = "X-Twilio-Signature"
WINDOW = 300


def authenticate_event(secret: bytes, request: HookRequest) -> None:
    """`t=<unix>,v1=<mac>` over "<t>.<raw body>" within 5 minutes; the MAC in hex or base64url."""
    header = request.headers.get(SIGNATURE)
    if not header:
        raise AuthError(f"missing {SIGNATURE} header", 401)
    header_credential(header, f"{SIGNATURE} header")
    fields: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        t = int(fields["t"][0])
    except (KeyError, ValueError, IndexError):
        raise AuthError(f"malformed {SIGNATURE} header", 401) from None
    if abs(time.time() - t) > WINDOW:
        raise AuthError("signature timestamp outside the 5-minute window", 401)
    mac = hmac.new(secret, f"{t}.".encode() + request.body, hashlib.sha256).digest()
    accepted = (mac.hex(), base64.urlsafe_b64encode(mac).decode().rstrip("="))
    for given in fields.get("v1", []):
        if any(same(given.rstrip("="), expected) for expected in accepted):
            return
    raise AuthError("signature does not match", 401)


def parse_event(instance: str, home: str, links: bool, request: HookRequest) -> convert.Event:
    """The generic form; 400 naming the fields that are wrong."""
    try:
        event = convert.Event.model_validate(parse_json(request.body))
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
        raise BadRequest(f"invalid fields: {', '.join(fields)}") from None
    if not convert.number(event.customer or (event.from_ if event.direction == "inbound" else event.to)):
        raise BadRequest("the customer's number is missing (from for inbound calls, to for outbound, or customer)")
    return event


def _twilio_signature(key: bytes, url: str, params: list[tuple[str, str]]) -> str:
    data = url + "".join(name + value for name, value in sorted(params))
    return base64.b64encode(hmac.new(key, data.encode(), hashlib.sha1).digest()).decode()


def _signed_urls(url: str) -> list[str]:
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    if parts.port is None:
        return [url, urlunsplit(parts._replace(netloc=f"{parts.netloc}:{default}"))]
    if parts.port == default:
        return [url, urlunsplit(parts._replace(netloc=parts.netloc.rsplit(":", 1)[0]))]
    return [url]


def authenticate_twilio(token: bytes, url: str, request: HookRequest) -> dict[str, str]:
    """The callback's form once X-Twilio-Signature matches it over the relay's public URL for this route."""
    header = request.headers.get(TWILIO_SIGNATURE)
    if not header:
        raise AuthError(f"missing {TWILIO_SIGNATURE} header", 401)
    given = header_credential(header, f"{TWILIO_SIGNATURE} header")
    try:
        params = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, max_num_fields=500)
    except (UnicodeDecodeError, ValueError):
        raise AuthError(f"{TWILIO_SIGNATURE} does not match", 403) from None
    query = list(request.query.items())
    full = f"{url}?{urlencode(query)}" if query else url
    if any(same(given, _twilio_signature(token, u, params).encode()) for u in _signed_urls(full)):
        return dict(params)
    raise AuthError(f"{TWILIO_SIGNATURE} does not match (Twilio signs the relay's server.public_url + the path)", 403)


def parse_twilio(instance: str, home: str, account: str, links: bool, form: dict[str, str]) -> Inbound:
    """A Voice status or <Dial action> callback of this account; nothing for the in-between states."""
    if form.get("AccountSid") != account:
        raise BadRequest("AccountSid is not the configured twilio_account_sid")
    if not form.get("CallSid", "").startswith("CA"):
        raise BadRequest("a call callback needs CallSid")
    message = convert.from_twilio(instance, home, form, links)
    return Inbound.of(message) if message is not None and message.conversation.chat else Inbound()
