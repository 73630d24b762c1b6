"""Webchat connector: visitors get a signed token; their replies wait in bounded memory."""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field

from connectors.webchat import convert, inbound
from relay.connector import Capabilities, Connector, ConnectorConfig, ConnectorKind, Context, Limit, Manifest, Route
from relay.model import Message


class WebchatConfig(ConnectorConfig):
    """`type = "webchat"`: the customer chat page."""

    type: Literal["webchat"]
    title: str = Field(default="Chat with us", max_length=80)
    max_visitors: int = Field(default=1000, ge=1, le=100_000)
    max_pending: int = Field(default=100, ge=1, le=10_000)
    ack_deadline: float = Field(default=15.0, gt=0, le=120)


class Visitor:
    """One browser's pending replies and a wake-up event."""

    def __init__(self, max_pending: int) -> None:
        self.items: deque[dict[str, Any]] = deque(maxlen=max_pending)
        self.seq = 0
        self.changed = asyncio.Event()


class WebchatConnector(Connector):
    """A messenger whose customers are browser visitors of the relay's chat page."""

    config: WebchatConfig

    def __init__(self, name: str, config: WebchatConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        self.visitors: OrderedDict[str, Visitor] = OrderedDict()

    def routes(self) -> Sequence[Route]:
        return inbound.routes(self)

    def issue_token(self) -> str:
        visitor = uuid.uuid4().hex
        return f"{visitor}.{self.ctx.sealer.digest('webchat:' + self.name + ':' + visitor)}"

    def visitor_of(self, token: str) -> str | None:
        """The visitor id in a token signed by this workspace, or None."""
        import hmac

        visitor, _, mac = token.partition(".")
        if len(visitor) != 32 or not mac:
            return None
        expected = self.ctx.sealer.digest("webchat:" + self.name + ":" + visitor)
        return visitor if hmac.compare_digest(expected.encode(), mac.encode("utf-8", "surrogateescape")) else None

    def visitor(self, visitor: str) -> Visitor:
        v = self.visitors.get(visitor)
        if v is None:
            v = self.visitors[visitor] = Visitor(self.config.max_pending)
            while len(self.visitors) > self.config.max_visitors:
                self.visitors.popitem(last=False)
        self.visitors.move_to_end(visitor)
        return v

    async def send(self, message: Message) -> str:
        v = self.visitor(message.conversation.chat)
        item_id = uuid.uuid4().hex
        links = [{"name": a.name, "url": self.ctx.media.link(a) or a.url} for a in message.attachments]
        v.seq += 1
        item = convert.reply_view(message, item_id, links)
        item["seq"] = v.seq
        v.items.append(item)
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
