"""Webchat connector: visitors get a signed token; their replies wait in bounded memory until read."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from connectors.webchat import convert, inbound
from connectors.webchat.config import WebchatConfig
from relay.connector import Capabilities, Connector, ConnectorKind, Context, Hook, Limit, Manifest, Route
from relay.errors import DeliveryError
from relay.model import Message
from relay.reasons import Reason


class WebchatConnector(Connector):
    """A messenger whose customers are browser visitors of the relay's chat page."""

    config: WebchatConfig

    def __init__(self, name: str, config: WebchatConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        self.visitors = inbound.Visitors(name, config, ctx)

    def routes(self) -> Sequence[Route | Hook]:
        return inbound.routes(self.visitors)

    async def send(self, message: Message) -> str:
        who = message.conversation.chat
        v = self.visitors.admit(who)
        if v is None:
            raise DeliveryError(Reason.CHANNEL_FULL, retry_after=inbound.FULL_RETRY_AFTER, scope="connector")
        if v.unread >= self.config.max_pending:
            raise DeliveryError(Reason.RECIPIENT_BACKLOG, retry_after=inbound.FULL_RETRY_AFTER)
        item_id = uuid.uuid4().hex
        links = [{"name": a.name, "url": self.ctx.media.link(a)} for a in message.attachments]
        self.visitors.push(who, v, convert.reply_view(message, item_id, links))
        return item_id


MANIFEST = Manifest(
    type="webchat",
    kind=ConnectorKind.MESSENGER,
    summary="Customer web chat",
    config=WebchatConfig,
    factory=WebchatConnector,
    capabilities=Capabilities(
        max_text=convert.MAX_TEXT, replies=False, limits=(Limit("chat", rate=5, per=1.0, burst=10),), ack_deadline=15.0
    ),
)
