"""HubSpot's custom-channel webhook: the v3 signature checked on the raw body, then the event parsed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import urlencode

from connectors.hubspot.convert import agent_message, event_of, relayed
from relay.connector import HookRequest, Inbound
from relay.errors import AuthError, BadRequest
from relay.http import parse_json
from relay.seal import Sealer

SIGNATURE = "X-HubSpot-Signature-v3"
TIMESTAMP = "X-HubSpot-Request-Timestamp"
WINDOW_MS = 5 * 60 * 1000
_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


def request_uri(url: str, query: Mapping[str, str]) -> str:
    """The URI HubSpot signed: the URL it was given (the relay's public one), with the query, and the
    characters HubSpot decodes before signing decoded."""
    full = f"{url}?{urlencode(list(query.items()))}" if query else url
    for encoded, char in _DECODED.items():
        full = full.replace(encoded, char).replace(encoded.lower(), char)
    return full


def signature(key: bytes, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """base64(HMAC-SHA256(key, method + uri + body + timestamp)), as HubSpot signs v3 requests."""
    mac = hmac.new(key, method.encode() + uri.encode() + body + timestamp.encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def authenticate(key: bytes, url: str, request: HookRequest, now_ms: int | None = None) -> None:
    """X-HubSpot-Signature-v3 over the raw body, with a timestamp no more than 5 minutes away; 401 otherwise."""
    given = request.headers.get(SIGNATURE)
    stamp = request.headers.get(TIMESTAMP, "")
    if not given:
        raise AuthError(f"missing {SIGNATURE} header", 401)
    if not stamp.isdigit():
        raise AuthError(f"missing or malformed {TIMESTAMP} header", 401)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now - int(stamp)) > WINDOW_MS:
        raise AuthError("signature timestamp outside the 5-minute window", 401)
    expected = signature(key, "POST", request_uri(url, request.query), request.body, stamp)
    if not hmac.compare_digest(expected.encode(), given.strip().encode()):
        raise AuthError("signature does not match", 401)


def parse(instance: str, sealer: Sealer, app_id: int, channel_id: str | None, request: HookRequest) -> Inbound:
    """An agent's message as a Message for the conversation its integration thread id seals; other
    events (channel accounts, messages this app published) are acknowledged and not delivered."""
    try:
        event = event_of(parse_json(request.body))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if not relayed(event, app_id, channel_id):
        return Inbound()
    assert event.message is not None
    if not event.channelIntegrationThreadIds:
        raise BadRequest("channelIntegrationThreadIds: the thread was not started through the relay", 422)
    address = sealer.open(event.channelIntegrationThreadIds[0])
    if not event.message.text.strip() and not event.message.attachments:
        raise BadRequest("message: an agent's message needs text or attachments", 422)
    return Inbound.of(agent_message(event, instance, address))
