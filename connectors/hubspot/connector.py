"""HubSpot connector: customer messages published to a custom channel, agents' replies from its webhook,
statuses patched back; OAuth access tokens only in memory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import aiohttp

from connectors.hubspot import convert, inbound
from connectors.hubspot.config import HubSpotConfig
from relay.client import Answer, Call
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
    Outcome,
    Result,
)
from relay.errors import DeliveryError, MediaError
from relay.model import Attachment, Kind, Message, Party
from relay.reasons import Reason
from relay.secret import Secret
from relay.stream import MediaStream
from relay.tokens import Grant, TokenCache, TokenRevoked, call_with_token

CHANNELS = "/conversations/v3/custom-channels"
DAY = 24 * 3600.0


class HubSpotConnector(Connector):
    """Relay -> HubSpot: POST …/custom-channels/{id}/messages (INCOMING). HubSpot -> relay: the channel's
    webhook (OUTGOING_CHANNEL_MESSAGE_CREATED, v3-signed) on /hooks/<instance>."""

    config: HubSpotConfig

    def __init__(self, name: str, config: HubSpotConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        self.api = config.api_base_url.rstrip("/")
        self.refresh_token = config.refresh_token
        self.tokens = TokenCache(self._refresh, margin=config.refresh_margin)

    async def _refresh(self) -> Grant:
        """A new access token from the refresh token (kept in memory if HubSpot rotates it)."""
        if not self.refresh_token:
            raise TokenRevoked("not_connected")
        grant = {"grant_type": "refresh_token", "refresh_token": self.refresh_token.reveal()}
        form = convert.token_form(self.config.client_id, self.config.client_secret, grant)
        url = f"{self.api}{self.config.token_path}"
        call = Call("POST", url, body=form, timeout=self.config.timeout, idempotent=True)
        found, rotated = convert.grant_of(await self.ctx.client.call(call))
        if rotated is not None:
            self.refresh_token = rotated
        self.ctx.log.info("access token refreshed", extra={"connector": self.name, "ttl": found.expires_in})
        return found

    async def _api(
        self, method: str, path: str, json: Any = None, params: dict[str, str] | None = None, idempotent: bool = False
    ) -> Answer:
        def make(token: Secret) -> Call:
            headers = convert.bearer(token, json is not None)
            url = f"{self.api}{path}"
            return Call(
                method, url, headers, json=json, params=params, timeout=self.config.timeout, idempotent=idempotent
            )

        return await call_with_token(self.ctx.client, self.tokens, make)

    def routes(self) -> Sequence[Hook]:
        """The channel's webhookUrl, /hooks/<instance>: HubSpot signs the exact URL it was given."""
        url = self.ctx.hook_url()

        async def authenticate(request: HookRequest) -> None:
            inbound.authenticate(self.config.signing_key, url, request)

        async def parse(request: HookRequest, _: Any) -> Inbound:
            return inbound.parse(self.name, self.ctx.sealer, self.config.app_id, self.config.channel_id, request)

        return (Hook("POST", "", authenticate, parse, settle=self._settle),)

    async def _settle(self, message: Message, result: Result) -> Result:
        """An agent's message delivered: mark it SENT in HubSpot (once); if HubSpot cannot be told right
        now, HubSpot redelivers the webhook, which the core answers as a duplicate, and it is told then."""
        if result.outcome not in (Outcome.DELIVERED, Outcome.DUPLICATE):
            return result
        key = "hs:sent:" + self.ctx.sealer.digest(f"{self.name}:{message.id}")
        if result.outcome is Outcome.DUPLICATE and await self.ctx.state.get(key):
            return result
        try:
            await self._status(message.id, {"statusType": "SENT"})
        except DeliveryError as exc:
            self.ctx.log.warning("status not set", extra={"connector": self.name, "reason": exc.reason})
            if exc.retryable:
                return Result(Outcome.RETRY, exc.reason, retry_after=exc.retry_after or 1.0, detail=exc.detail)
            return result
        await self.ctx.state.set(key, "1", DAY)
        return result

    async def _status(self, message_id: str, body: dict[str, str]) -> None:
        channel = self.config.channel_id
        if not channel:
            raise DeliveryError(Reason.PLATFORM_MISCONFIGURED, scope="connector", detail="not_connected")
        answer = await self._api("PATCH", f"{CHANNELS}/{channel}/messages/{message_id}", json=body, idempotent=True)
        if answer.status == 404:
            raise DeliveryError(Reason.UNKNOWN_MESSAGE, detail=404)
        if not answer.ok:
            raise convert.refusal(answer)

    async def send(self, message: Message) -> str:
        if message.kind is Kind.STATUS:
            body = convert.status_body(message)
            if body is None or message.ref is None:
                return f"status:{message.status}"
            await self._status(message.ref, body)
            return message.ref
        channel, account = self.config.channel_id, self.config.accounts.get(message.conversation.instance)
        if not channel or not account:
            raise DeliveryError(Reason.PLATFORM_MISCONFIGURED, scope="connector", detail="not_connected")
        if not convert.text_of(message) and not message.attachments:
            raise DeliveryError(Reason.EMPTY_MESSAGE)
        files = [(await self._upload(message, i, att), att.mime) for i, att in enumerate(message.attachments)]
        contact = await self._contact(message.sender)
        address = message.conversation
        body = convert.publish_body(
            message,
            account,
            self.ctx.sealer.seal(address),
            self.ctx.sealer.digest(convert.idempotency_source(message)),
            files,
            self.ctx.sealer.digest(f"{address.instance}:{address.chat}"),
            contact,
        )
        answer = await self._api("POST", f"{CHANNELS}/{channel}/messages", json=body, idempotent=True)
        if not answer.ok:
            raise convert.refusal(answer)
        return convert.message_id(answer)

    async def _upload(self, message: Message, index: int, att: Attachment) -> str:
        """Stream one file from where it is held into HubSpot's files; its id is remembered for a day so a
        retried message does not upload it again."""
        key = "hs:file:" + self.ctx.sealer.digest(f"{message.dedup_id}#{index}:{att.size}")
        found = await self.ctx.state.get(key)
        if found:
            return found
        for attempt in (1, 2):
            token = await self.tokens.get()
            stream = await self.ctx.media.stream(att)
            form = aiohttp.FormData()
            form.add_field("file", stream.chunks, filename=att.name or "file", content_type=att.mime)
            form.add_field("folderPath", self.config.file_folder)
            form.add_field("options", convert.file_options(self.config.file_ttl))
            headers = convert.bearer(token, json=False)
            call = Call("POST", f"{self.api}/files/v3/files", headers, form, timeout=max(120.0, self.config.timeout))
            answer = await self.ctx.client.call(call)
            if answer.status != 401 or attempt == 2:
                break
            self.tokens.expire(token)
        if not answer.ok:
            raise convert.refusal(answer, idempotent=False)
        file_id = convert.message_id(answer)
        await self.ctx.state.set(key, file_id, DAY)
        return file_id

    async def _contact(self, sender: Party | None) -> int | None:
        """An existing contact with the sender's e-mail or phone (created when `contacts = "create"`), or
        None; a failed lookup never holds a message up. Remembered for an hour under a keyed digest."""
        search = convert.contact_search(sender) if sender is not None and self.config.contacts != "off" else None
        if search is None or sender is None:
            return None
        key = "hs:contact:" + self.ctx.sealer.digest(f"{sender.email}|{sender.phone}")
        cached = await self.ctx.state.get(key)
        if cached is not None:
            return int(cached) if cached.isdigit() else None
        try:
            answer = await self._api("POST", "/crm/v3/objects/contacts/search", json=search, idempotent=True)
            found = convert.contact_id(answer) if answer.ok else None
            if answer.ok and found is None and self.config.contacts == "create":
                made = await self._api("POST", "/crm/v3/objects/contacts", json=convert.contact_create(sender))
                found = convert.contact_id(made) if made.ok else None
        except DeliveryError as exc:
            self.ctx.log.warning("contact lookup failed", extra={"connector": self.name, "reason": exc.reason})
            return None
        if answer.ok:
            await self.ctx.state.set(key, str(found) if found is not None else "-", 3600.0)
        return found

    async def fetch_media(self, file_id: str, limit: int) -> MediaStream:
        """An agent's file: a signed URL from HubSpot, then the file streamed from HubSpot's file hosts."""
        try:
            answer = await self._api("GET", f"/files/v3/files/{file_id}/signed-url", idempotent=True)
        except DeliveryError as exc:
            raise MediaError(f"HubSpot file not available ({exc.reason.value})") from None
        data = answer.json()
        url = data.get("url") if isinstance(data, dict) and answer.ok else None
        if not isinstance(url, str):
            raise MediaError(f"HubSpot file not available (HTTP {answer.status})")
        call = Call("GET", url, timeout=120.0, read_timeout=30.0, hosts=self.config.file_hosts)
        return await self.ctx.client.stream(call, limit)

    async def start(self) -> None:
        """Get a first access token, so a revoked install shows in /readyz right away."""
        try:
            await self.tokens.get()
        except DeliveryError as exc:
            self.ctx.log.error("no access token", extra={"connector": self.name, "reason": exc.reason})

    def health(self) -> str | None:
        if not self.refresh_token or not self.config.channel_id:
            return "not connected to HubSpot; run `relay hubspot connect`"
        if self.tokens.revoked is not None:
            return "HubSpot refused the refresh token (install removed or revoked); run `relay hubspot connect`"
        return None

    async def check(self) -> list[Check]:
        what = "OAuth token refresh"
        try:
            self.tokens.expire(await self.tokens.get())
            await self.tokens.get()
        except TokenRevoked as exc:
            return [Check(what, False, f"{self.health() or 'refused'} ({exc.detail})")]
        except DeliveryError as exc:
            return [Check(what, False, exc.reason.value)]
        rows = [Check(what, True, "access token obtained")]
        channel = self.config.channel_id
        if not channel:
            return [*rows, Check("custom channel", False, "no channel_id; run `relay hubspot connect`")]
        try:
            answer = await self._api("GET", f"{CHANNELS}/{channel}/channel-accounts", params={"limit": "100"})
        except DeliveryError as exc:
            return [*rows, Check("channel accounts", False, exc.reason.value)]
        data = answer.json()
        listed = data.get("results") if isinstance(data, dict) else None
        found = {str(a.get("id")): a for a in listed or [] if isinstance(a, dict)}
        for instance, account in sorted(self.config.accounts.items()):
            item = found.get(account, {})
            ok = bool(item.get("authorized")) and not item.get("archived")
            detail = "authorized" if ok else "missing or not authorized; run `relay hubspot connect`"
            rows.append(Check(f"channel account for {instance}", ok if answer.ok else None, detail))
        return rows

    def tune(self, manifest: Capabilities) -> Capabilities:
        """HubSpot allows an app 100 requests per 10 s per account: `max_rate` per second, bursts of 10."""
        caps = super().tune(manifest)
        rate = self.config.max_rate
        return replace(caps, limits=(Limit("connector", rate=rate, per=1.0, burst=max(1, int(rate) + 1)),))


MANIFEST = Manifest(
    type="hubspot",
    kind=ConnectorKind.CRM,
    summary="HubSpot inbox (custom channel)",
    config=HubSpotConfig,
    factory=HubSpotConnector,
    capabilities=Capabilities(
        max_text=30_000,
        threads=True,
        replies=True,
        files=True,
        max_file_bytes=100 << 20,
        max_files=10,
        receipts=True,
        limits=(Limit("connector", rate=9.0, per=1.0, burst=10),),
        ack_deadline=10.0,
    ),
)
