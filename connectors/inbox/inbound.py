"""Inbox routes: the agent page (public) and its JSON API (authenticated before parsing); loopback only
when there is no access key."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from aiohttp import web

from connectors.inbox import convert
from relay.connector import Outcome, Route
from relay.errors import BadRequest
from relay.http import parse_json, read_body, wait_any
from relay.ui import render

if TYPE_CHECKING:
    from connectors.inbox.connector import InboxConnector


def _page(conn: InboxConnector) -> str:
    page = files("connectors.inbox").joinpath("static/inbox.html").read_text(encoding="utf-8")
    token = "" if conn.config.access_key is not None else conn.session_token
    return render(page, SESSION=token, BASE=f"/hooks/{conn.name}")


def routes(conn: InboxConnector) -> Sequence[Route]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(
            text=_page(conn), content_type="text/html", headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"}
        )

    async def list_conversations(request: web.Request) -> web.Response:
        conn.authenticate(request.headers)
        convs = [
            {
                "conversation": c.ref,
                "channel": c.channel,
                "title": c.title,
                "unread": c.unread,
                "updated": c.updated.isoformat(),
                "last": c.items[-1].view() if c.items else None,
            }
            for c in reversed(conn.conversations.values())
        ]
        return web.json_response({"version": conn.version, "conversations": convs})

    async def thread(request: web.Request) -> web.Response:
        conn.authenticate(request.headers)
        conv = conn.conversations.get(request.match_info["ref"])
        if conv is None:
            raise web.HTTPNotFound(text="no such conversation")
        conv.unread = 0
        return web.json_response(
            {
                "conversation": conv.ref,
                "channel": conv.channel,
                "title": conv.title,
                "version": conn.version,
                "messages": [i.view() for i in conv.items],
            }
        )

    async def reply(request: web.Request) -> web.Response:
        conn.authenticate(request.headers)
        ref = request.match_info["ref"]
        address = conn.ctx.sealer.open(ref)
        data: Any = parse_json(await read_body(request))
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise BadRequest("text is required")
        conv = conn.conversation(
            ref, address.instance, conn.conversations[ref].title if ref in conn.conversations else "Customer"
        )
        item = convert.agent_item(text)
        conv.items.append(item)
        conn._touch()
        result = await conn.ctx.deliver(convert.agent_message(text, conn.name, address, item.id))
        item.status = {Outcome.DELIVERED: "sent", Outcome.DUPLICATE: "sent", Outcome.FAILED: "failed"}.get(
            result.outcome, "not sent, try again"
        )
        item.reason = result.reason
        conn._touch()
        status = (
            200
            if result.acknowledged and result.outcome is not Outcome.FAILED
            else (422 if result.outcome is Outcome.FAILED else 503)
        )
        return web.json_response(
            {"status": result.outcome.value, "reason": result.reason, "item": item.view()}, status=status
        )

    async def events(request: web.Request) -> web.Response:
        conn.authenticate(request.headers)
        try:
            since = int(request.query.get("since", "0"))
            wait = min(25.0, max(0.0, float(request.query.get("wait", "25"))))
        except ValueError:
            raise BadRequest("since and wait must be numbers") from None
        if conn.version <= since:
            await wait_any([conn.ctx.closing, conn.changed], wait)
        return web.json_response({"version": conn.version})

    local = conn.config.access_key is None
    return (
        Route("GET", "/", page, public=True, local=local),
        Route("GET", "/api/conversations", list_conversations, local=local),
        Route("GET", "/api/conversations/{ref}", thread, local=local),
        Route("POST", "/api/conversations/{ref}/messages", reply, local=local),
        Route("GET", "/api/events", events, local=local),
    )
