"""Webchat routes: the chat page (public), a token for a new visitor (rate-limited per address), and
token-checked messages and events. A visitor is held in memory from its first message on."""

from __future__ import annotations

import html
import math
import time
from collections.abc import Sequence
from importlib.resources import files
from typing import TYPE_CHECKING

from aiohttp import web
from pydantic import ValidationError

from connectors.webchat.convert import ChatPost, customer_message
from relay.connector import Route
from relay.errors import AuthError, BadRequest
from relay.http import parse_json, read_body, respond, wait_any
from relay.throttle import client_key
from relay.ui import render

if TYPE_CHECKING:
    from connectors.webchat.connector import WebchatConnector

FULL_RETRY_AFTER = 10

TOKEN_HEADER = "X-Webchat-Token"


def routes(conn: WebchatConnector) -> Sequence[Route]:
    def visitor(request: web.Request) -> str:
        found = conn.visitor_of(request.headers.get(TOKEN_HEADER, ""))
        if found is None:
            raise AuthError("missing or invalid visitor token; reload the chat page", 401)
        return found

    async def page(request: web.Request) -> web.Response:
        text = files("connectors.webchat").joinpath("static/chat.html").read_text(encoding="utf-8")
        text = render(text, BASE=f"/hooks/{conn.name}", TITLE=html.escape(conn.config.title))
        return web.Response(text=text, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def session(request: web.Request) -> web.Response:
        wait = conn.sessions.take(client_key(request.remote))
        if wait > 0:
            return web.json_response(
                {"error": "too many new chat sessions from this address; try again later", "reason": "rate_limited"},
                status=429,
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return web.json_response({"token": conn.issue_token()})

    async def post_message(request: web.Request) -> web.Response:
        who = visitor(request)
        data = parse_json(await read_body(request))
        try:
            post = ChatPost.model_validate(data)
        except ValidationError as exc:
            fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
            raise BadRequest(f"invalid fields: {', '.join(fields)}") from None
        if conn.admit(who) is None:
            return web.json_response(
                {"error": "the chat is full right now; try again in a moment", "reason": "webchat_full"},
                status=503,
                headers={"Retry-After": str(FULL_RETRY_AFTER)},
            )
        return respond(await conn.ctx.deliver(customer_message(post, conn.name, who)))

    async def events(request: web.Request) -> web.Response:
        who = visitor(request)
        try:
            since = int(request.query.get("since", "0"))
            wait = min(25.0, max(0.0, float(request.query.get("wait", "25"))))
        except ValueError:
            raise BadRequest("since and wait must be numbers") from None
        end = time.monotonic() + wait
        v = conn.find(who)
        while v is None and time.monotonic() < end and not conn.ctx.closing.is_set():
            await wait_any([conn.ctx.closing, conn.arrived], end - time.monotonic())
            v = conn.find(who)
        if v is None:
            return web.json_response({"seq": 0, "items": []})
        conn.mark_read(who, v, since)
        if v.seq <= since:
            await wait_any([conn.ctx.closing, v.changed], end - time.monotonic())
        return web.json_response({"seq": v.seq, "items": [i for i in v.items if i["seq"] > since]})

    return (
        Route("GET", "/", page, public=True),
        Route("POST", "/api/session", session, public=True),
        Route("POST", "/api/messages", post_message),
        Route("GET", "/api/events", events),
    )
