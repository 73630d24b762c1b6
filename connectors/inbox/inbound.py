"""The agent's side: conversations in bounded memory, the agent page (public) and its JSON API
(authenticated before parsing); loopback only when there is no access key."""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

from aiohttp import web

from connectors.inbox import convert
from connectors.inbox.config import InboxConfig
from relay.connector import Context, Outcome, Route
from relay.errors import AuthError, BadRequest
from relay.http import parse_json, read_body, wait_any
from relay.ui import render


def same(given: str, expected: str) -> bool:
    """Constant-time equality of a header value and a secret, any characters (aiohttp keeps bad bytes escaped)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape"))


@dataclass(slots=True)
class Conversation:
    ref: str
    channel: str
    title: str = field(repr=False)
    items: deque[convert.Item] = field(repr=False, default_factory=deque)
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    unread: int = 0


class Inbox:
    """The conversations an agent sees, bounded, and a version that wakes the page's long poll."""

    def __init__(self, name: str, config: InboxConfig, ctx: Context) -> None:
        self.name = name
        self.config = config
        self.ctx = ctx
        self.conversations: OrderedDict[str, Conversation] = OrderedDict()
        self.version = 0
        self.changed = asyncio.Event()
        self.session_token = secrets.token_urlsafe(24)

    def authenticate(self, headers: Mapping[str, str]) -> None:
        """Bearer access key when configured; otherwise the page's session token (same-origin check)."""
        get = headers.get
        if self.config.access_key is not None:
            if not same(get("Authorization", ""), f"Bearer {self.config.access_key.reveal()}"):
                raise AuthError("missing or wrong access key", 401)
            return
        if not same(get("X-Relay-Session", ""), self.session_token):
            raise AuthError("missing or wrong session token; reload the inbox page", 401)

    def touch(self) -> None:
        """Something changed: wake the pages."""
        self.version += 1
        self.changed.set()
        self.changed = asyncio.Event()

    def conversation(self, ref: str, channel: str, title: str) -> Conversation:
        conv = self.conversations.get(ref)
        if conv is None:
            conv = Conversation(ref, channel, title, deque(maxlen=self.config.max_messages))
            self.conversations[ref] = conv
            while len(self.conversations) > self.config.max_conversations:
                self.conversations.popitem(last=False)
        self.conversations.move_to_end(ref)
        conv.updated = datetime.now(UTC)
        return conv

    def find(self, conv: Conversation, item_id: str | None) -> convert.Item | None:
        return next((i for i in conv.items if i.id == item_id), None) if item_id else None


def _page(conn: Inbox) -> str:
    page = files("connectors.inbox").joinpath("static/inbox.html").read_text(encoding="utf-8")
    token = "" if conn.config.access_key is not None else conn.session_token
    return render(page, SESSION=token, BASE=f"/hooks/{conn.name}")


def routes(conn: Inbox) -> Sequence[Route]:
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
        conn.touch()
        result = await conn.ctx.deliver(convert.agent_message(text, conn.name, address, item.id))
        item.status = {Outcome.DELIVERED: "sent", Outcome.DUPLICATE: "sent", Outcome.FAILED: "failed"}.get(
            result.outcome, "not sent, try again"
        )
        item.reason = result.reason
        conn.touch()
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
