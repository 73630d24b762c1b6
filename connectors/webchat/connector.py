"""Webchat connector: visitors get a signed token; their replies wait in bounded memory until read."""

from __future__ import annotations

import asyncio
import hmac
import uuid
from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field

from connectors.webchat import convert, inbound
from relay.connector import Capabilities, Connector, ConnectorConfig, ConnectorKind, Context, Limit, Manifest, Route
from relay.errors import DeliveryError
from relay.model import Message
from relay.throttle import Throttle


class WebchatConfig(ConnectorConfig):
    """`type = "webchat"`: the customer chat page."""

    type: Literal["webchat"]
    title: str = Field(default="Chat with us", max_length=80)
    max_visitors: int = Field(default=1000, ge=1, le=100_000)
    max_pending: int = Field(default=100, ge=1, le=10_000)
    ack_deadline: float = Field(default=15.0, gt=0, le=120)
    sessions_per_minute: float = Field(default=20.0, gt=0, le=100_000)
    session_burst: int = Field(default=20, ge=1, le=100_000)


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


class WebchatConnector(Connector):
    """A messenger whose customers are browser visitors of the relay's chat page."""

    config: WebchatConfig

    def __init__(self, name: str, config: WebchatConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        self.visitors: dict[str, Visitor] = {}
        self.idle: OrderedDict[str, None] = OrderedDict()
        self.arrived = asyncio.Event()
        self.sessions = Throttle(config.sessions_per_minute / 60, config.session_burst)

    def routes(self) -> Sequence[Route]:
        return inbound.routes(self)

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
        v = self.visitors.get(visitor)
        if v is not None and visitor in self.idle:
            self.idle.move_to_end(visitor)
        return v

    def admit(self, visitor: str) -> Visitor | None:
        """A visitor's state, created when there is room: the least recently active visitor with nothing
        unread makes way; None when every visitor held still has replies it has not read."""
        v = self.find(visitor)
        if v is not None:
            return v
        if len(self.visitors) >= self.config.max_visitors:
            if not self.idle:
                return None
            gone, _ = self.idle.popitem(last=False)
            del self.visitors[gone]
        v = self.visitors[visitor] = Visitor()
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

    async def send(self, message: Message) -> str:
        who = message.conversation.chat
        v = self.admit(who)
        if v is None:
            raise DeliveryError("webchat_full", retryable=True, retry_after=inbound.FULL_RETRY_AFTER, scope="connector")
        if v.unread >= self.config.max_pending:
            raise DeliveryError("visitor_backlog_full", retryable=True, retry_after=inbound.FULL_RETRY_AFTER)
        while len(v.items) >= self.config.max_pending:
            v.items.popleft()
        item_id = uuid.uuid4().hex
        links = [{"name": a.name, "url": self.ctx.media.link(a) or a.url} for a in message.attachments]
        v.seq += 1
        item = convert.reply_view(message, item_id, links)
        item["seq"] = v.seq
        v.items.append(item)
        self.idle.pop(who, None)
        v.changed.set()
        v.changed = asyncio.Event()
        return item_id


MANIFEST = Manifest(
    type="webchat",
    kind=ConnectorKind.MESSENGER,
    summary="Customer web chat",
    config=WebchatConfig,
    factory=WebchatConnector,
    capabilities=Capabilities(
        max_text=4000, replies=False, limits=(Limit("chat", rate=5, per=1.0, burst=10),), ack_deadline=15.0
    ),
)
