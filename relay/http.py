"""HTTP helpers shared by inbound routes: outcome responses, error middleware, signed bodies."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from relay import codec
from relay.connector import Outcome, Result
from relay.credential import header_credential, malformed_header, same
from relay.errors import AuthError, BadRequest
from relay.inert import HARDENED
from relay.keyed import HmacSha256
from relay.reasons import Reason

log = logging.getLogger("relay.http")

SHED = {
    Reason.SHUTTING_DOWN: Result(Outcome.RETRY, Reason.SHUTTING_DOWN, retry_after=5),
    Reason.OVERLOADED: Result(Outcome.OVERLOADED, Reason.OVERLOADED, retry_after=1),
    Reason.DESTINATION_BUSY: Result(Outcome.OVERLOADED, Reason.DESTINATION_BUSY, retry_after=1),
    Reason.STATE_STORE_PERSISTENT: Result(Outcome.RETRY, Reason.STATE_STORE_PERSISTENT, retry_after=30),
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BODY_TIMEOUT: web.AppKey[float] = web.AppKey("body_timeout", float)


# The answers that carry nothing but their outcome, encoded once.
_PLAIN = {o: codec.dumps({"status": o.value}) for o in (Outcome.DELIVERED, Outcome.DUPLICATE)}


def json_answer(body: Any) -> web.Response:
    """A 200 whose JSON body is what the platform waits for (e.g. an invoke's card), hardened like every answer."""
    return web.Response(body=codec.dumps(body), content_type="application/json", headers=HARDENED)


def respond(result: Result, failed_status: int = 200, fields: tuple[tuple[str, str], ...] = ()) -> web.Response:
    """Answer a source: 200 once it may forget the message, 503 + Retry-After when it should redeliver;
    `fields` are added once the message is delivered."""
    plain = not fields and result.reason is None and not result.detail and not result.platform_id
    if plain and result.outcome in _PLAIN:
        return web.Response(body=_PLAIN[result.outcome], content_type="application/json", headers=HARDENED)
    body: dict[str, Any] = {"status": result.outcome.value}
    if result.outcome is Outcome.DELIVERED:
        body.update(fields)
    if result.reason:
        body["reason"] = result.reason.value
    if result.detail:
        body["code"] = result.detail
    if result.platform_id:
        body["id"] = result.platform_id
    status, headers = 200, HARDENED
    if result.outcome in (Outcome.RETRY, Outcome.OVERLOADED):
        body["detail"] = "not delivered yet; redeliver this request"
        status, headers = 503, {**HARDENED, "Retry-After": str(max(1, round(result.retry_after or 1)))}
    elif result.outcome is Outcome.FAILED:
        status = failed_status
    return web.Response(body=codec.dumps(body), status=status, content_type="application/json", headers=headers)


def guarded(handler: Handler, refuse: Callable[[], web.Response | None] | None = None) -> Handler:
    """The handler with known errors turned into 4xx with a reason and anything else into a bare 500,
    never a traceback; `refuse` may answer first (e.g. 503 under overload) before the body is read."""

    async def run(request: web.Request) -> web.StreamResponse:
        malformed = malformed_header(request.headers)
        if malformed is not None:
            return web.json_response({"error": f"malformed {malformed} header"}, status=401)
        if refuse is not None:
            refusal = refuse()
            if refusal is not None:
                return refusal
        try:
            return await handler(request)
        except (AuthError, BadRequest) as exc:
            return web.json_response({"error": exc.reason}, status=exc.status)
        except web.HTTPException:
            raise
        except Exception as exc:
            resource = request.match_info.route.resource
            log.error(
                "request failed",
                extra={"route": resource.canonical if resource else "?", "error": type(exc).__name__},
            )
            return web.json_response({"error": "internal error"}, status=500)

    return run


async def read_body(request: web.Request) -> bytes:
    """The raw body; 413 with a reason when it is over the limit, 408 when it is not all there within the
    app's BODY_TIMEOUT (slow POST); the connection is then closed instead of waiting for the rest. A body
    already all there (the common case) is read without arming that timer."""
    if request.content.is_eof():
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise BadRequest("request body too large", 413) from None
    limit = request.config_dict.get(BODY_TIMEOUT, 30.0)
    try:
        async with asyncio.timeout(limit):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise BadRequest("request body too large", 413) from None
    except TimeoutError:
        request.content.set_exception(TimeoutError())
        raise BadRequest(f"request body not received within {limit:g} s", 408) from None


def parse_json(raw: bytes) -> Any:
    """Parse an authenticated body; 400 with a reason if it is not JSON."""
    try:
        return codec.loads(raw)
    except ValueError:
        raise BadRequest("body is not valid JSON") from None


def sign(secret: bytes | HmacSha256, body: bytes, now: int | None = None) -> str:
    """The `t=<unix>,v1=<hex>` signature header for a body (HMAC-SHA256 of "<t>.<body>")."""
    t = int(time.time()) if now is None else now
    mac = secret if isinstance(secret, HmacSha256) else HmacSha256(secret)
    return f"t={t},v1={mac.hexdigest(f'{t}.'.encode(), body)}"


def verify(secret: bytes, header: str | None, body: bytes, tolerance: int = 300) -> None:
    """Check a `t=,v1=` signature in constant time with a replay window; AuthError if it fails."""
    if not header:
        raise AuthError("missing signature header", 401)
    header_credential(header, "signature header")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        t = int(parts["t"][0])
    except (KeyError, ValueError, IndexError):
        raise AuthError("malformed signature header", 401) from None
    if abs(time.time() - t) > tolerance:
        raise AuthError("signature timestamp outside the 5-minute window", 401)
    expected = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(same(v, expected) for v in parts.get("v1", [])):
        raise AuthError("signature does not match", 401)


async def wait_any(events: Sequence[asyncio.Event], timeout: float) -> None:
    """Return when any event is set (e.g. new data, or shutdown) or after `timeout` seconds."""
    if timeout <= 0 or any(e.is_set() for e in events):
        return
    tasks = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
