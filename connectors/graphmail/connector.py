"""Graph mail connector: a Microsoft 365 mailbox through Microsoft Graph (notifications wake a sweep of the
inbox, answers go out as MIME through sendMail), for tenants where password IMAP is switched off."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from connectors.graphmail import convert, inbound
from connectors.graphmail.auth import Graph
from connectors.graphmail.config import GraphMailConfig
from relay.connector import Capabilities, Check, Connector, ConnectorKind, Context, Hook, HookRequest, Inbound, Manifest
from relay.errors import DeliveryError, MediaError
from relay.mailbuild import Thread, outgoing
from relay.mailmessage import too_large
from relay.mailparse import MailClass, parse, section_bytes
from relay.model import Kind, Message
from relay.stream import MediaStream

MAX_FILE = 3 << 20
CHUNK = 64 * 1024


class GraphMailConnector(Connector):
    """Customers write to the Exchange Online mailbox; agents' answers go back threaded under their mail."""

    config: GraphMailConfig

    def __init__(self, name: str, config: GraphMailConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        self.graph = Graph(config, ctx.client)
        self.own = inbound.own_checker(self._tag, config.address)
        deadline = self.capabilities.ack_deadline
        self.sweeper = inbound.Sweeper(name, config, ctx, self.graph, self.read, deadline)
        self.secret = config.client_state.reveal().encode()

    def _tag(self, token: str) -> str:
        return self.ctx.sealer.digest(f"mail-id:{self.name}:{token}")

    def read(self, raw: bytes, graph_id: str, header_only: bool) -> tuple[MailClass | None, Message | None]:
        """A fetched MIME message as a Message (or None for what is not a customer's mail)."""
        try:
            mail = parse(raw, self.own, tuple(self.config.languages))
        except Exception as exc:
            self.ctx.log.warning("mail not understood", extra={"connector": self.name, "error": type(exc).__name__})
            return None, None
        if header_only and mail.kind is MailClass.CUSTOMER:
            mail = too_large(mail)
        own = self._is_own
        return mail.kind, convert.to_message(mail, self.name, graph_id, self.ctx.sealer.digest, own)

    def _is_own(self, message_id: str) -> bool:
        return self.own(message_id, None)

    def routes(self) -> Sequence[Hook]:
        async def authenticate(request: HookRequest) -> inbound.Validation | None:
            return await inbound.authenticate(self.secret, self.sweeper.validating, request)

        def parse_hook(request: HookRequest, found: Any) -> Inbound:
            return inbound.parse(self.sweeper, request, found)

        return (Hook("POST", "/notify", authenticate, parse_hook), Hook("POST", "/lifecycle", authenticate, parse_hook))

    async def start(self) -> None:
        self.ctx.spawn(self.sweeper.run(), "graph-sweep")

    async def close(self) -> None:
        await super().close()
        await self.sweeper.release()
        await self.graph.close()

    async def _thread(self, root: str, answered: str | None) -> Thread:
        """The newest message of the thread in the mailbox (its subject and chain), else the bare root."""
        cfg = self.config
        try:
            answer = await self.graph.call(convert.by_message_id(cfg, root))
            found = convert.values(answer) if answer.ok else []
            conversation = next((str(f["conversationId"]) for f in found if f.get("conversationId")), None)
            if conversation:
                more = await self.graph.call(convert.by_conversation(cfg, conversation))
                found += convert.values(more) if more.ok else []
            return convert.thread(found, root, answered)
        except DeliveryError as exc:
            self.ctx.log.warning("thread lookup failed", extra={"connector": self.name, "error": exc.reason.value})
            return convert.thread([], root, answered)

    async def send(self, message: Message) -> str:
        if message.kind is Kind.STATUS:
            return f"status:{message.id}"
        mid, mail = await outgoing(message, self.config, self._tag, self.ctx.media, MAX_FILE, self._thread)
        answer = await self.graph.call(convert.send_mime(self.config, bytes(mail)))
        if not answer.ok:
            raise convert.graph_error(answer)
        return mid

    async def fetch_media(self, file_id: str, limit: int) -> MediaStream:
        where = convert.parse_file_id(file_id)
        if where is None:
            raise MediaError("not a file of this mailbox")
        section, graph_id = where
        try:
            raw = await self.graph.stream_call(convert.mime(self.config, graph_id), self.config.max_mail_bytes)
        except DeliveryError as exc:
            raise MediaError(f"mailbox not reachable ({exc.reason.value})") from None
        data = section_bytes(raw, section)
        if data is None:
            raise MediaError("the mail holding this file has no such part")
        if len(data) > limit:
            raise MediaError(f"file is larger than the {limit}-byte cap")
        return MediaStream("application/octet-stream", _chunks(data), len(data))

    async def check(self) -> list[Check]:
        cfg = self.config
        try:
            await self.graph.token()
        except DeliveryError as exc:
            return [Check("app-only token", False, f"{exc.reason.value} ({exc.detail})")]
        checks = [Check("app-only token", True, "client credentials accepted by the tenant")]
        try:
            answer = await self.graph.call(convert.get(cfg, "/mailFolders/inbox", {"$select": "id,totalItemCount"}))
        except DeliveryError as exc:
            return [*checks, Check("mailbox", False, exc.reason.value)]
        inbox = answer.json() if answer.ok else None
        if not answer.ok or not isinstance(inbox, dict):
            error = convert.graph_error(answer)
            return [*checks, Check("mailbox", False, f"{error.reason.value} ({error.detail}); Mail.Read granted?")]
        checks.append(Check("mailbox", True, f"inbox readable, {inbox.get('totalItemCount', '?')} messages"))
        sub = self.sweeper.subscription
        mode = "notifications" if cfg.notifications == "webhook" else "polling"
        state = f"subscription until {sub[1]:%Y-%m-%d %H:%M} UTC" if sub else "subscription made when the relay runs"
        checks.append(Check(mode, None if sub is None and mode == "notifications" else True, state))
        return checks


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), CHUNK):
        yield data[i : i + CHUNK]


MANIFEST = Manifest(
    type="graphmail",
    kind=ConnectorKind.MESSENGER,
    summary="Microsoft 365 mailbox through Microsoft Graph",
    config=GraphMailConfig,
    factory=GraphMailConnector,
    capabilities=Capabilities(
        max_text=100_000,
        replies=True,
        files=True,
        max_file_bytes=MAX_FILE,
        max_files=10,
        ack_deadline=60.0,
    ),
)
