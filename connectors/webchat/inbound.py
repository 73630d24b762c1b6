"""The chat page's side: visitors held in memory from their first message, their signed tokens, the
page (public), a token for a new visitor (rate-limited per address), messages (a Hook) and events."""

from __future__ import annotations

import asyncio
import hmac
import html
import math
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Sequence
from importlib.resources import files
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from connectors.webchat.config import WebchatConfig
from connectors.webchat.convert import MAX_TEXT, ChatPost, customer_message, refusal
from relay.connector import Context, Hook, HookRequest, Inbound, Route
from relay.errors import AuthError, BadRequest
from relay.http import parse_json, wait_any
from relay.throttle import Throttle, client_key
from relay.ui import render

FULL_RETRY_AFTER = 10
TOKEN_HEADER = "X-Webchat-Token"


class Visitor:
    """One browser's replies (those up to `read` it has seen) and a wake-up event."""

    def __init__(self) -> None:
        self.items: deque[dict[str, Any]] = deque()
        self.seq = 0
        self.read = 0
        self.changed = asyncio.Event()

    @property
    def unread(self) -> int:
        return self.seq - self.read


class Visitors:
    """The visitors held in memory, bounded: one with unread replies is never evicted."""

    def __init__(self, name: str, config: WebchatConfig, ctx: Context) -> None:
        self.name = name
        self.config = config
        self.ctx = ctx
        self.held: dict[str, Visitor] = {}
        self.idle: OrderedDict[str, None] = OrderedDict()
        self.arrived = asyncio.Event()
        self.sessions = Throttle(config.sessions_per_minute / 60, config.session_burst)

    def issue_token(self) -> str:
        visitor = uuid.uuid4().hex
        return f"{visitor}.{self.ctx.sealer.digest('webchat:' + self.name + ':' + visitor)}"

    def visitor_of(self, token: str) -> str | None:
        """The visitor id in a token signed by this workspace, or None."""
        visitor, _, mac = token.partition(".")
        if len(visitor) != 32 or not mac:
            return None
        expected = self.ctx.sealer.digest("webchat:" + self.name + ":" + visitor)
        return visitor if hmac.compare_digest(expected.encode(), mac.encode("utf-8", "surrogateescape")) else None

    def find(self, visitor: str) -> Visitor | None:
        """A visitor's state if it is held; never creates it."""
        v = self.held.get(visitor)
        if v is not None and visitor in self.idle:
            self.idle.move_to_end(visitor)
        return v

    def admit(self, visitor: str) -> Visitor | None:
        """A visitor's state, created when there is room: the least recently active visitor with nothing
        unread makes way; None when every visitor held still has replies it has not read."""
        v = self.find(visitor)
        if v is not None:
            return v
        if len(self.held) >= self.config.max_visitors:
            if not self.idle:
                return None
            gone, _ = self.idle.popitem(last=False)
            del self.held[gone]
        v = self.held[visitor] = Visitor()
        self.idle[visitor] = None
        self.arrived.set()
        self.arrived = asyncio.Event()
        return v

    def mark_read(self, visitor: str, v: Visitor, since: int) -> None:
        """The page has shown every reply up to `since` (a page ahead of us is stale and acknowledges nothing);
        once nothing is unread the visitor may make way."""
        if since <= v.seq:
            v.read = max(v.read, since)
        if v.unread == 0 and visitor not in self.idle:
            self.idle[visitor] = None

    def push(self, visitor: str, v: Visitor, item: dict[str, Any]) -> None:
        """Hold a reply for the page and wake its poll."""
        while len(v.items) >= self.config.max_pending:
            v.items.popleft()
        v.seq += 1
        item["seq"] = v.seq
        v.items.append(item)
        self.idle.pop(visitor, None)
        v.changed.set()
        v.changed = asyncio.Event()


def authenticate(visitors: Visitors, request: HookRequest) -> str:
    """The visitor a signed token names; 401 otherwise."""
    found = visitors.visitor_of(request.headers.get(TOKEN_HEADER, ""))
    if found is None:
        raise AuthError("missing or invalid visitor token; reload the chat page", 401)
    return found


def parse(visitors: Visitors, request: HookRequest, who: str) -> Inbound:
    """A customer's message; a new visitor is refused (503) while every held visitor has unread replies."""
    try:
        post = ChatPost.model_validate(parse_json(request.body))
    except ValidationError as exc:
        raise BadRequest(refusal(exc)) from None
    if visitors.admit(who) is None:
        body = {"error": "the chat is full right now; try again in a moment", "reason": "channel_full"}
        return Inbound(reply=web.json_response(body, status=503, headers={"Retry-After": str(FULL_RETRY_AFTER)}))
    return Inbound.of(customer_message(post, visitors.name, who))


def routes(visitors: Visitors) -> Sequence[Route | Hook]:
    """The page, the session endpoint, the messages Hook and the events long poll."""
    name, ctx = visitors.name, visitors.ctx

    def visitor(request: web.Request) -> str:
        found = visitors.visitor_of(request.headers.get(TOKEN_HEADER, ""))
        if found is None:
            raise AuthError("missing or invalid visitor token; reload the chat page", 401)
        return found

    async def page(request: web.Request) -> web.Response:
        text = files("connectors.webchat").joinpath("static/chat.html").read_text(encoding="utf-8")
        text = render(text, BASE=f"/hooks/{name}", TITLE=html.escape(visitors.config.title), MAX_TEXT=str(MAX_TEXT))
        return web.Response(text=text, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def session(request: web.Request) -> web.Response:
        wait = visitors.sessions.take(client_key(request.remote))
        if wait > 0:
            return web.json_response(
                {"error": "too many new chat sessions from this address; try again later", "reason": "rate_limited"},
                status=429,
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return web.json_response({"token": visitors.issue_token()})

    def check(request: HookRequest) -> str:
        return authenticate(visitors, request)

    def post(request: HookRequest, who: str) -> Inbound:
        return parse(visitors, request, who)

    async def events(request: web.Request) -> web.Response:
        who = visitor(request)
        try:
            since = int(request.query.get("since", "0"))
            wait = min(25.0, max(0.0, float(request.query.get("wait", "25"))))
        except ValueError:
            raise BadRequest("since and wait must be numbers") from None
        end = time.monotonic() + wait
        v = visitors.find(who)
        while v is None and time.monotonic() < end and not ctx.closing.is_set():
            await wait_any([ctx.closing, visitors.arrived], end - time.monotonic())
            v = visitors.find(who)
        if v is None:
            return web.json_response({"seq": 0, "items": []})
        visitors.mark_read(who, v, since)
        if v.seq <= since:
            await wait_any([ctx.closing, v.changed], end - time.monotonic())
        return web.json_response({"seq": v.seq, "items": [i for i in v.items if i["seq"] > since]})

    return (
        Route("GET", "/", page, public=True),
        Route("POST", "/api/session", session, public=True),
        Hook("POST", "/api/messages", check, post),
        Route("GET", "/api/events", events),
    )
