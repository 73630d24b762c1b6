"""Inbox connector: conversations kept in bounded memory; agents answer from a page."""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field

from connectors.inbox import convert, inbound
from relay.connector import Capabilities, Connector, ConnectorConfig, ConnectorKind, Context, Manifest, Route
from relay.errors import AuthError, ConfigError
from relay.model import Kind, Message
from relay.strength import Strong


def same(given: str, expected: str) -> bool:
    """Constant-time equality of a header value and a secret, any characters (aiohttp keeps bad bytes escaped)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape"))


class InboxConfig(ConnectorConfig):
    """`type = "inbox"`: the in-memory agent inbox; without `access_key` it serves loopback only."""

    type: Literal["inbox"]
    access_key: Strong | None = None
    max_conversations: int = Field(default=500, ge=1, le=100_000)
    max_messages: int = Field(default=200, ge=1, le=10_000)
    ack_deadline: float = Field(default=15.0, gt=0, le=120)


@dataclass(slots=True)
class Conversation:
    ref: str
    channel: str
    title: str = field(repr=False)
    items: deque[convert.Item] = field(repr=False, default_factory=deque)
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    unread: int = 0


class InboxConnector(Connector):
    """A CRM that lives in the relay's memory, for trying the relay with no CRM at hand."""

    config: InboxConfig

    def __init__(self, name: str, config: InboxConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        if config.access_key is not None and not config.access_key.reveal():
            raise ConfigError([f"{ctx.exposure.source}: connectors.{name}.access_key: is empty; set a long random key"])
        if config.access_key is None and ctx.exposure.exposed:
            fix = 'Set access_key = "${INBOX_ACCESS_KEY}" and export INBOX_ACCESS_KEY=<a long random key>'
            raise ConfigError([ctx.exposure.refusal(f"connectors.{name}.access_key", fix)])
        self.conversations: OrderedDict[str, Conversation] = OrderedDict()
        self.version = 0
        self.changed = asyncio.Event()
        self.session_token = secrets.token_urlsafe(24)

    def routes(self) -> Sequence[Route]:
        return inbound.routes(self)

    def authenticate(self, headers: Mapping[str, str]) -> None:
        """Bearer access key when configured; otherwise the page's session token (same-origin check)."""
        get = headers.get
        if self.config.access_key is not None:
            if not same(get("Authorization", ""), f"Bearer {self.config.access_key.reveal()}"):
                raise AuthError("missing or wrong access key", 401)
            return
        if not same(get("X-Relay-Session", ""), self.session_token):
            raise AuthError("missing or wrong session token; reload the inbox page", 401)

    def _touch(self) -> None:
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

    async def send(self, message: Message) -> str:
        ref = self.ctx.sealer.seal(message.conversation)
        conv = self.conversation(ref, message.conversation.instance, convert.sender_label(message))
        target = self.find(conv, message.ref)
        item_id = target.id if target else ""
        if message.kind is Kind.STATUS and target is not None:
            target.status = message.status.value if message.status else target.status
            target.reason = message.reason
        elif message.kind is Kind.EDIT and target is not None:
            target.html, target.edited = convert.edit_html(message.text), True
        elif message.kind is Kind.DELETE and target is not None:
            target.html, target.deleted = "", True
        elif message.kind is Kind.REACTION and target is not None:
            target.reaction = message.reaction
        elif message.kind in (Kind.OPT_OUT, Kind.OPT_IN, Kind.NOTICE, Kind.STATUS):
            text = {
                Kind.OPT_OUT: "The customer opted out of messages.",
                Kind.OPT_IN: "The customer opted in again.",
            }.get(message.kind, f"Notice: {message.reason or 'info'}")
            item = convert.notice_item(text)
            conv.items.append(item)
            item_id = item.id
        else:
            links = [convert.attachment_view(a, self.ctx.media.link(a) or a.url) for a in message.attachments]
            item = convert.inbound_item(message, links)
            conv.items.append(item)
            conv.unread += 1
            item_id = item.id
        self._touch()
        return item_id or convert.notice_item("").id


MANIFEST = Manifest(
    type="inbox",
    kind=ConnectorKind.CRM,
    summary="Agent inbox",
    config=InboxConfig,
    factory=InboxConnector,
    capabilities=Capabilities(
        max_text=100_000,
        replies=True,
        edits=True,
        deletes=True,
        reactions=True,
        files=True,
        max_file_bytes=1 << 40,
        receipts=True,
        ack_deadline=15.0,
    ),
)
