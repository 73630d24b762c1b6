"""The CRM -> relay webhook: the signature checked on the raw body, then the answer parsed; every refusal
names the field, what was expected and an example, and is logged without content."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from pydantic import ValidationError

from connectors.webhook import interactive
from connectors.webhook.convert import EXPECTED, InboundBody, from_body
from connectors.webhook.interactive import StartBody, template
from relay import codec
from relay.connector import Connector, HookRequest, Inbound
from relay.credential import header_credential
from relay.errors import AuthError, BadRequest, DeliveryError
from relay.http import parse_json
from relay.media import host_allowed
from relay.model import Address, Kind, Message
from relay.reasons import Reason
from relay.seal import Sealer

SIGNATURE_HEADER = "X-Relay-Signature"
WINDOW = 300
_NAME = f"signature header {SIGNATURE_HEADER}"
_FORM = "expected t=<unix seconds>,v1=<64 hex digits of HMAC-SHA256>, e.g. t=1764000000,v1=5f2c…"
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_CURSOR = re.compile(r"^[A-Za-z0-9_=+/.%-]{1,1024}$")
_AFTER = "the `next` cursor of the previous answer, 1 to 1024 letters, digits or _=+/.%-"
log = logging.getLogger("relay.connectors.webhook")
Peer = Callable[[str], Connector]


def authenticate(instance: str, keys: Sequence[bytes], request: HookRequest) -> None:
    """X-Relay-Signature (`t=,v1=` HMAC-SHA256 over "<t>.<raw body>", 5-minute window); any v1 and any
    of `keys` (the inbound secret and, during a rotation, the previous one) may match."""
    try:
        verify(keys, request.headers.get(SIGNATURE_HEADER), request.body)
    except AuthError as exc:
        log.info("crm answer refused", extra={"connector": instance, "status": exc.status, "field": SIGNATURE_HEADER})
        raise


def verify(keys: Sequence[bytes], header: str | None, body: bytes, now: float | None = None) -> None:
    """Check a signature header; AuthError naming the header and what was expected when it fails."""
    if not header:
        raise AuthError(f"missing signature header {SIGNATURE_HEADER}; {_FORM}", 401)
    header_credential(header, f"{SIGNATURE_HEADER} header")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key.strip(), []).append(value.strip())
    stamps = parts.get("t", [])
    if len(stamps) != 1 or not stamps[0].isdigit():
        raise AuthError(f"{_NAME}: no valid t=; {_FORM}", 401)
    t = int(stamps[0])
    if t > 10**11:
        raise AuthError(f"{_NAME}: t is in milliseconds; send unix seconds, e.g. t=1764000000", 401)
    skew = (time.time() if now is None else now) - t
    if abs(skew) > WINDOW:
        raise AuthError(
            f"{_NAME}: t is {abs(skew):.0f} s {'old' if skew > 0 else 'in the future'}, outside the "
            "5-minute window; sign just before sending, with a correct clock",
            401,
        )
    given = [v.lower() for v in parts.get("v1", []) if _HEX.match(v)]
    if not given:
        raise AuthError(f"{_NAME}: no valid v1=; {_FORM}", 401)
    signed = f"{t}.".encode() + body
    for secret in keys:
        expected = hmac.new(secret, signed, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(v, expected) for v in given):
            return
    raise AuthError(
        f'{_NAME}: no v1 matches HMAC-SHA256(secret, "<t>.<raw body>"); sign the exact bytes sent '
        "with the relay's inbound_secret (or secret)",
        401,
    )


def parse(instance: str, sealer: Sealer, allowlist: Sequence[str], request: HookRequest, _: Any = None) -> Inbound:
    """A CRM user's answer as a Message for the conversation it quotes; 4xx naming what is wrong."""
    try:
        return _parse(instance, sealer, allowlist, request)
    except (AuthError, BadRequest) as exc:
        field = exc.reason.split(":", 1)[0] if ":" in exc.reason else "body"
        log.info("crm answer refused", extra={"connector": instance, "status": exc.status, "field": field[:64]})
        raise


def _parse(instance: str, sealer: Sealer, allowlist: Sequence[str], request: HookRequest) -> Inbound:
    data = parse_json(request.body)
    try:
        body = InboundBody.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(_explain(exc.errors()[0])) from None
    address = sealer.open(body.conversation)
    if body.type == "message" and not body.text and not body.attachments:
        raise BadRequest('text: a message needs text or attachments, e.g. "text": "It ships today."')
    if body.type in ("edit", "delete", "reaction") and not body.reply_to:
        raise BadRequest(f'reply_to: missing; a {body.type} names the message it changes, e.g. "reply_to": "crm-991"')
    if body.type == "reaction" and body.reaction is None:
        raise BadRequest('reaction: missing; expected one emoji, e.g. "reaction": "👍" ("" takes a reaction back)')
    problem = shape(body)
    if problem:
        raise BadRequest(problem)
    for i, att in enumerate(body.attachments):
        if not host_allowed(att.url, allowlist):
            raise BadRequest(
                f"attachments[{i}].url: host is not in media.allowlist; ask the relay admin to add it", 422
            )
    return Inbound.of(from_body(body, instance, address))


def shape(body: InboundBody) -> str | None:
    """What a well-typed answer still lacks: a template for `template`, text with choices, the read mark."""
    if body.type == "template" and body.template is None:
        return 'template: missing; a "template" answer names it, e.g. {"name": "order_update", "language": "en_US"}'
    if body.type == "read" and not body.up_to:
        return 'up_to: missing; a "read" answer names the last customer message read, e.g. "wamid.HBgM…"'
    if body.choices is not None:
        if not body.text:
            return 'text: choices are offered with a text, e.g. "text": "Which day suits you?"'
        return interactive.refusal(body.choices)
    return None


def authenticate_query(instance: str, keys: Sequence[bytes], request: HookRequest) -> None:
    """A signed GET: the same X-Relay-Signature, over "<t>.<query string>" (there is no body)."""
    query = urlencode(list(request.query.items())).encode()
    authenticate(instance, keys, HookRequest(request.headers, request.query, query, request.match, request.remote))


async def templates(instance: str, messenger: Peer, request: HookRequest, _: Any = None) -> Inbound:
    """GET /templates?channel=<messenger>[&after=<cursor>]: the messenger's templates, read from the platform
    now, and `next`, the cursor to ask with for the rest (null when the list is complete)."""
    channel, after = request.query.get("channel", ""), request.query.get("after")
    if not channel:
        log.info("crm request refused", extra={"connector": instance, "status": 400, "field": "channel"})
        raise BadRequest(f"channel: missing; expected {EXPECTED['channel'][0]}, e.g. ?channel=support_wa")
    if after is not None and not _CURSOR.match(after):
        log.info("crm request refused", extra={"connector": instance, "status": 400, "field": "after"})
        raise BadRequest(f"after: invalid; expected {_AFTER}, e.g. ?channel=support_wa&after=QVFIUmx1WTBp")
    found, after = await messenger(channel).templates(after or None)
    body = codec.dumps({"templates": found, "next": after})
    return Inbound(reply=web.Response(body=body, content_type="application/json"))


def start(instance: str, sealer: Sealer, messenger: Peer, request: HookRequest, _: Any = None) -> Inbound:
    """POST /conversations: a template to a phone number on a messenger with templates; the sealed reference
    joins the answer once sent. The number is never logged nor named in a refusal."""
    try:
        body = StartBody.model_validate(parse_json(request.body))
    except ValidationError as exc:
        error = _explain(exc.errors()[0])
        log.info("crm request refused", extra={"connector": instance, "status": 400, "field": error.split(":")[0]})
        raise BadRequest(error) from None
    if not messenger(body.channel).capabilities.templates:
        raise DeliveryError(Reason.UNSUPPORTED, detail="no templates on this channel")
    address = Address(body.channel, body.phone.lstrip("+"))
    message = Message(
        kind=Kind.TEMPLATE, id=body.id, origin=instance, conversation=address, template=template(body.template)
    )
    return Inbound(((message,),), fields=(("conversation", sealer.seal(address)),))


def _explain(error: Any) -> str:
    """One validation error as `field: problem; expected …, e.g. …`, without the value sent."""
    loc = [str(p) for p in error["loc"]]
    path = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc).lstrip(".") or "body"
    key = ".".join("N" if p.isdigit() else p for p in loc) or "body"
    kind = str(error["type"])
    problem = {"missing": "missing", "extra_forbidden": "not a known field"}.get(kind, "")
    if not problem:
        problem = "too long" if "too_long" in kind else "too short or empty" if "too_short" in kind else "invalid"
    expected, example = EXPECTED.get(key, EXPECTED["body"])
    return f"{path}: {problem}; expected {expected}, e.g. {example}"
