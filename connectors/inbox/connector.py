"""Inbox connector: conversations kept in bounded memory; agents answer from a page."""

from __future__ import annotations

from collections.abc import Sequence

from connectors.inbox import convert, inbound
from connectors.inbox.config import InboxConfig
from relay.connector import Capabilities, Connector, ConnectorKind, Context, Manifest, Route
from relay.errors import ConfigError
from relay.model import Kind, Message

NOTICES = {Kind.OPT_OUT: "The customer opted out of messages.", Kind.OPT_IN: "The customer opted in again."}


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
        self.inbox = inbound.Inbox(name, config, ctx)

    def routes(self) -> Sequence[Route]:
        return inbound.routes(self.inbox)

    async def send(self, message: Message) -> str:
        inbox = self.inbox
        ref = self.ctx.sealer.seal(message.conversation)
        conv = inbox.conversation(ref, message.conversation.instance, convert.sender_label(message))
        target = inbox.find(conv, message.ref)
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
            item = convert.notice_item(NOTICES.get(message.kind, f"Notice: {message.reason or 'info'}"))
            conv.items.append(item)
            item_id = item.id
        else:
            links = [convert.attachment_view(a, self.ctx.media.link(a) or a.url) for a in message.attachments]
            item = convert.inbound_item(message, links)
            conv.items.append(item)
            conv.unread += 1
            item_id = item.id
        inbox.touch()
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
