"""Slack -> relay: v0 signature check, then slack-bolt dispatch (Events API route or Socket Mode)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from relay.connector import Result
from relay.credential import header_credential, same
from relay.errors import AuthError, BadRequest
from relay.http import parse_json, read_body, respond

if TYPE_CHECKING:
    from connectors.slack.connector import SlackConnector

WINDOW = 300
RESULT_KEY = "relay_result"


class _Quiet(logging.Filter):
    """Keeps library log lines to their opening words: their tails may hold bodies, URLs or tickets."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        head = re.split(r"[:(\[{]", text, maxsplit=1)[0].strip()[:80]
        if record.exc_info and record.exc_info[1] is not None:
            head += f" [{type(record.exc_info[1]).__name__}]"
        record.msg, record.args, record.exc_info, record.exc_text = f"slack library: {head}", None, None, None
        return True


def library_logger() -> logging.Logger:
    """The logger handed to slack-bolt and slack-sdk: WARNING and above, content stripped."""
    log = logging.getLogger("relay.connector.slack.lib")
    log.setLevel(logging.WARNING)
    if not any(isinstance(f, _Quiet) for f in log.filters):
        log.addFilter(_Quiet())
    return log


def verify(secret: bytes, headers: Mapping[str, str], raw: bytes, now: float | None = None) -> None:
    """Check Slack's v0 signature over the raw body with a 5-minute window; AuthError if it fails."""
    stamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not stamp or not signature:
        raise AuthError("missing Slack signature headers", 401)
    stamp_bytes = header_credential(stamp, "Slack request timestamp")
    given = header_credential(signature, "Slack signature")
    try:
        sent = int(stamp_bytes)
    except ValueError:
        raise AuthError("malformed Slack request timestamp", 401) from None
    if abs((time.time() if now is None else now) - sent) > WINDOW:
        raise AuthError("Slack request timestamp outside the 5-minute window", 401)
    expected = b"v0=" + hmac.new(secret, b"v0:" + stamp_bytes + b":" + raw, hashlib.sha256).hexdigest().encode()
    if not same(given, expected):
        raise AuthError("Slack signature does not match", 401)


def build_app(conn: SlackConnector) -> AsyncApp:
    """The bolt app: url_verification, ssl_check and self-event filtering by bolt; events to the relay.

    Bolt's own signature check is off: the route verifies first, before bolt parses or logs anything."""

    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        ident = await conn.identity()
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=conn.token,
            bot_user_id=ident.user_id if ident else None,
            bot_id=ident.bot_id if ident else None,
        )

    app = AsyncApp(
        client=conn.bolt_client,
        authorize=authorize,
        request_verification_enabled=False,
        process_before_response=True,
        logger=library_logger(),
        name=f"relay-{conn.name}",
    )

    async def on_event(body: dict[str, Any], context: AsyncBoltContext) -> None:
        result = await conn.on_event(body)
        if result is not None:
            context[RESULT_KEY] = result

    app.event(re.compile(r".*"))(on_event)
    return app


async def handle(conn: SlackConnector, request: web.Request) -> web.Response:
    """POST /hooks/<instance>/events: verify, dispatch through bolt, answer by what was delivered."""
    raw = await read_body(request)
    verify(conn.signing_key, request.headers, raw)
    if request.content_type == "application/json":
        doc = parse_json(raw)
        if not isinstance(doc, dict) or not isinstance(doc.get("event", {}), dict):
            raise BadRequest("a Slack payload is a JSON object whose event is an object")
        if doc.get("type") == "app_rate_limited":
            conn.ctx.log.warning("Slack is rate-limiting event delivery", extra={"connector": conn.name})
            return web.json_response({"status": "noted"})
    bolt_req = await to_bolt_request(request)
    bolt_resp = await conn.bolt.async_dispatch(bolt_req)
    result = bolt_req.context.get(RESULT_KEY)
    if isinstance(result, Result):
        return respond(result)
    return await to_aiohttp_response(bolt_resp)


class SocketHandler(AsyncSocketModeHandler):
    """Socket Mode: acknowledge an envelope only once its event was delivered (or deliberately ignored);
    an envelope left unacknowledged is redelivered by Slack like an Events API retry."""

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.time()
        bolt_req = AsyncBoltRequest(mode="socket_mode", body=req.payload, headers=build_headers(req))
        bolt_resp = await self.app.async_dispatch(bolt_req)
        result = bolt_req.context.get(RESULT_KEY)
        if isinstance(result, Result) and not result.acknowledged:
            return
        if bolt_resp.status == 200:
            await send_async_response(client, req, bolt_resp, started)
