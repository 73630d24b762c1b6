"""Webchat routes: the chat page (public), a token for a new visitor, and token-checked messages and events."""

from __future__ import annotations

import html
from collections.abc import Sequence
from importlib.resources import files
from typing import TYPE_CHECKING

from aiohttp import web
from pydantic import ValidationError

from connectors.webchat.convert import ChatPost, customer_message
from relay.connector import Route
from relay.errors import AuthError, BadRequest
from relay.http import parse_json, read_body, respond, wait_any
from relay.ui import render

if TYPE_CHECKING:
    from connectors.webchat.connector import WebchatConnector

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
        return web.json_response({"token": conn.issue_token()})

    async def post_message(request: web.Request) -> web.Response:
        who = visitor(request)
        data = parse_json(await read_body(request))
        try:
            post = ChatPost.model_validate(data)
        except ValidationError as exc:
            fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
            raise BadRequest(f"invalid fields: {', '.join(fields)}") from None
        conn.visitor(who)
        return respond(await conn.ctx.deliver(customer_message(post, conn.name, who)))

    async def events(request: web.Request) -> web.Response:
        who = visitor(request)
        try:
            since = int(request.query.get("since", "0"))
            wait = min(25.0, max(0.0, float(request.query.get("wait", "25"))))
        except ValueError:
            raise BadRequest("since and wait must be numbers") from None
        v = conn.visitor(who)
        if v.seq <= since:
            await wait_any([conn.ctx.closing, v.changed], wait)
        return web.json_response({"seq": v.seq, "items": [i for i in v.items if i["seq"] > since]})

    return (
        Route("GET", "/", page, public=True),
        Route("POST", "/api/session", session, public=True),
        Route("POST", "/api/messages", post_message),
        Route("GET", "/api/events", events),
    )
