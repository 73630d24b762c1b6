"""Microsoft Teams over the Bot Framework REST protocol: JWT-checked activities in, msal-token replies out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.teams import inbound
from connectors.teams.auth import KeyCache, Verified
from connectors.teams.cards import MAX_ACTIONS, MAX_LIST, card
from connectors.teams.config import TeamsConfig, file_url_allowed, service_url_allowed
from connectors.teams.convert import (
    DOWNLOAD,
    INLINE,
    base_conversation,
    file_line,
    parse_media_id,
    refusal,
    sent_id,
    service_url,
    to_activity,
    to_call,
)
from connectors.teams.tokens import TokenSource
from relay.client import Call
from relay.connector import (
    Capabilities,
    Check,
    Connector,
    ConnectorKind,
    Context,
    Hook,
    HookRequest,
    Inbound,
    Limit,
    Manifest,
    MediaStream,
)
from relay.errors import DeliveryError, MediaError
from relay.model import Address, Kind, Message
from relay.once import Once
from relay.reasons import Reason
from relay.richtext import RichText

IMAGE_MAX = 1 << 20
UNREACHABLE_TTL = 24 * 3600.0
FILE_REDIRECTS = 2


class TeamsConnector(Connector):
    """Activities in at /hooks/<instance>/messages; replies to the conversation's Bot Connector service URL."""

    config: TeamsConfig

    def __init__(self, name: str, config: TeamsConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        self.keys = KeyCache(ctx.client, config.openid_metadata_url, ctx.log)
        self.tokens = TokenSource(config, ctx.log)
        self.once = Once(ctx.state, ctx.sealer, "teams:answered:", name)

    def routes(self) -> Sequence[Hook]:
        config = self.config

        async def authenticate(request: HookRequest) -> Verified:
            return await inbound.authenticate(self.keys, config.app_id, config.issuer, request)

        async def parse(request: HookRequest, verified: Verified) -> Inbound:
            return await inbound.parse(self.name, config.channels, self.heard_from, self.once, request, verified)

        return tuple(Hook("POST", path, authenticate, parse) for path in ("/messages", "", "/"))

    def _unreachable_key(self, address: Address) -> str:
        return "teams:unreachable:" + self.ctx.sealer.digest(f"{self.name}:{base_conversation(address.chat)}")

    async def heard_from(self, address: Address) -> None:
        """An authenticated activity came from this conversation: sending there may work again."""
        await self.ctx.state.delete(self._unreachable_key(address))

    async def _content(self, message: Message) -> tuple[RichText, list[tuple[str, str, bytes]]]:
        """The text with each file's caption; images that fit the file cap inline as bytes, any other file as
        a link line (the Bot Connector takes no files from a bot; degrade made links of files over the cap)."""
        cap = self.capabilities.max_file_bytes
        text = message.text
        images: list[tuple[str, str, bytes]] = []
        for att in message.attachments:
            if att.is_image and (att.size is None or att.size <= cap):
                try:
                    images.append((att.mime, att.name, await self.ctx.media.read(att, cap)))
                    text = text + (RichText.of("\n") if text and att.caption else RichText()) + att.caption
                    continue
                except MediaError:
                    pass
            text = text + att.caption + file_line(att.name, self.ctx.media.link(att) or att.url)
        return text, images

    async def send(self, message: Message) -> str:
        address = message.conversation
        service = service_url(address)
        if not service or not service_url_allowed(service, self.config.service_url_allowlist):
            raise DeliveryError(Reason.HOST_NOT_ALLOWED, detail="service_url")
        if await self.ctx.state.get(self._unreachable_key(address)) is not None:
            raise DeliveryError(Reason.RECIPIENT_UNREACHABLE)
        body: dict[str, Any] | None = None
        if message.kind is Kind.TYPING:
            body, message = {"type": "typing"}, message.with_(ref=None)
        elif message.kind is Kind.DELETE:
            if not message.ref:
                raise DeliveryError(Reason.UNKNOWN_MESSAGE)
        else:
            body = to_activity(message, *await self._content(message))
            if message.choices is not None:
                body["attachments"] = [*body.get("attachments", ()), card(message.choices)]
        call = to_call(message, service, body, await self.tokens.token(), self.config.service_hosts)
        answer = await self.ctx.client.call(call)
        if answer.ok:
            return sent_id(answer) or message.ref or self.ctx.sealer.digest(message.dedup_id)[:24]
        error = refusal(answer)
        if not error.retryable:
            self.ctx.log.warning("send refused", extra={"status": answer.status, "code": error.detail})
        if error.unreachable:
            await self.ctx.state.set(self._unreachable_key(address), error.detail or "1", UNREACHABLE_TTL)
        raise error

    async def fetch_media(self, file_id: str, limit: int) -> MediaStream:
        """A file from the service URL's host (with the bot token, to the first hop only) or a SharePoint
        download URL (pre-authenticated); the URL and every redirect hop must be on that kind's hosts."""
        kind, url = parse_media_id(file_id)
        config = self.config
        headers: dict[str, str] = {}
        if kind == INLINE and service_url_allowed(url, config.service_url_allowlist):
            try:
                headers["Authorization"] = f"Bearer {await self.tokens.token()}"
            except DeliveryError:
                raise MediaError("bot token unavailable") from None
            hosts = config.service_hosts
        elif kind == DOWNLOAD and file_url_allowed(url, config.file_host_allowlist):
            hosts = config.file_hosts
        else:
            where = (
                "Bot Framework hosts or service_url_allowlist"
                if kind == INLINE
                else "SharePoint or file_host_allowlist"
            )
            raise MediaError(f"file is not on the Teams file hosts ({where})")
        call = Call("GET", url, headers, hosts=hosts, redirects=FILE_REDIRECTS, encoded=True, forward_auth=False)
        return await self.ctx.client.stream(call, limit)

    async def check(self) -> list[Check]:
        try:
            await self.tokens.token()
            checks = [Check("token", True, "obtained")]
        except DeliveryError as exc:
            checks = [Check("token", False, exc.detail or exc.reason.value)]
        try:
            count = await self.keys.ensure()
            checks.append(Check("openid signing keys", count > 0, f"{count} keys" if count else "not fetched"))
        except Exception as exc:
            checks.append(Check("openid signing keys", False, type(exc).__name__))
        return checks

    async def close(self) -> None:
        await super().close()
        await self.tokens.close()


MANIFEST = Manifest(
    type="teams",
    kind=ConnectorKind.MESSENGER,
    summary="Microsoft Teams (Bot Framework)",
    config=TeamsConfig,
    factory=TeamsConnector,
    capabilities=Capabilities(
        max_text=12_000,
        text_unit="utf16",
        threads=True,
        replies=True,
        edits=True,
        deletes=True,
        files=True,
        max_file_bytes=IMAGE_MAX,
        max_buttons=MAX_ACTIONS,
        max_list=MAX_LIST,
        url_buttons=True,
        typing=True,
        limits=(
            Limit("chat", rate=7, per=1.0, burst=7),
            Limit("chat", rate=60, per=30.0, burst=8),
            Limit("connector", rate=30, per=1.0, burst=30),
        ),
        ack_deadline=12.0,
    ),
)
