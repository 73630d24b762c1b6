"""Zendesk connector: customer messages into Sunshine Conversations, business replies back from its webhook."""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from connectors.zendesk import convert, inbound
from connectors.zendesk.config import ZendeskConfig
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
    MediaStream,
)
from relay.errors import DeliveryError
from relay.model import Attachment, Kind, Message, Status
from relay.parts import part_id
from relay.reasons import Reason

MAX_FILE = 50 << 20
MARK_TTL = 7 * 24 * 3600.0
MEDIA_HOSTS = ("*.zendesk.com", "*.zdusercontent.com", "*.smooch.io", "*.zdassets.com")
AMBIGUOUS = (Reason.PLATFORM_TIMEOUT, Reason.PLATFORM_CONNECTION_LOST)


class _Gone(Exception):
    """The conversation the relay remembered no longer exists."""


class ZendeskConnector(Connector):
    """Relay -> Zendesk: SunCo users (externalId = sealed reference), conversations and messages.
    Zendesk -> relay: the custom integration's webhook at /hooks/<instance>."""

    config: ZendeskConfig

    def __init__(self, name: str, config: ZendeskConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        self.base = f"{config.api_base}/v2/apps/{quote(config.app_id, safe='')}"
        self.api_host = URL(config.api_base).host
        self._auth = config.authorization()
        self._webhook_key = config.webhook_secret.reveal().encode()
        self._conversations: OrderedDict[str, str] = OrderedDict()
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def routes(self) -> Sequence[Hook]:
        async def authenticate(request: HookRequest) -> None:
            inbound.authenticate(self._webhook_key, request)

        async def parse(request: HookRequest, _: Any) -> Inbound:
            return inbound.parse(self.name, self.config.app_id, self.ctx.sealer, self.ctx.log, request)

        return (Hook("POST", "", authenticate, parse), Hook("POST", "/", authenticate, parse))

    def _call(self, method: str, path: str, **more: Any) -> Call:
        headers = {"Authorization": self._auth, "Accept": "application/json"}
        return Call(method, self.base + path, headers, timeout=more.pop("timeout", self.config.timeout), **more)

    async def _api(self, method: str, path: str, **more: Any) -> Answer:
        return await self.ctx.client.call(self._call(method, path, **more))

    async def send(self, message: Message) -> str:
        sealed = self.ctx.sealer.seal(message.conversation)
        ext = convert.external_id(sealed, self.ctx.sealer.digest(sealed))
        if message.kind is Kind.STATUS:
            return await self._status(message, ext, sealed)
        if not message.text and not message.attachments:
            raise DeliveryError(Reason.EMPTY_MESSAGE)
        conversation = await self._conversation(ext, sealed, message)
        try:
            return await self._post(conversation, ext, message)
        except _Gone:
            self._conversations.pop(ext, None)
            return await self._post(await self._conversation(ext, sealed, message), ext, message)

    async def _post(self, conversation: str, ext: str, message: Message) -> str:
        """Post one message at most once: a mark taken before posting makes any later attempt look for the
        message (by its metadata) among the conversation's recent messages first."""
        relay_id = part_id(self.ctx.sealer, f"zendesk:{self.name}", message)
        mark = "zp:" + relay_id
        if await self.ctx.state.get(mark) is not None:
            found = await self._posted(conversation, relay_id)
            if found is not None:
                await self.ctx.state.delete(mark)
                return found
        await self.ctx.state.set(mark, "1", MARK_TTL)
        media = await self._upload(conversation, message.attachments[0]) if message.attachments else None
        body = convert.message_body(message, ext, relay_id, media)
        answer = await self._posting("POST", f"/conversations/{conversation}/messages", json=body)
        if answer.ok:
            await self.ctx.state.delete(mark)
            found = convert.posted_id(answer)
            if found is None:
                raise DeliveryError(Reason.PLATFORM_BAD_RESPONSE, detail=answer.status)
            return found
        if 400 <= answer.status < 500:
            await self.ctx.state.delete(mark)
        if answer.status == 404:
            raise _Gone
        raise convert.refusal(answer)

    async def _posting(self, method: str, path: str, **more: Any) -> Answer:
        """A post whose timeout or lost connection may be retried: the next attempt looks for it first."""
        try:
            return await self._api(method, path, **more)
        except DeliveryError as exc:
            if exc.reason in AMBIGUOUS:
                raise DeliveryError(exc.reason, retryable=True, scope="connector") from None
            raise

    async def _posted(self, conversation: str, relay_id: str) -> str | None:
        """The id of the message carrying `relay_id` among the conversation's last 100, if it is there."""
        answer = await self._api("GET", f"/conversations/{conversation}/messages")
        if answer.status == 404:
            raise _Gone
        if not answer.ok:
            raise convert.refusal(answer)
        return convert.find_posted(answer.json(), relay_id)

    async def _upload(self, conversation: str, att: Attachment) -> tuple[str, str, str]:
        """Stream one file into SunCo's attachments (public: the only access level SunCo offers)."""
        stream = await self.ctx.media.stream(att, MAX_FILE)
        form = aiohttp.FormData()
        form.add_field("source", stream.chunks, filename=att.name or "file", content_type=stream.mime)
        params = {"access": "public", "for": "message", "conversationId": conversation}
        answer = await self._posting(
            "POST", "/attachments", body=form, params=params, timeout=self.config.upload_timeout
        )
        data = answer.json() if answer.ok else None
        found = data.get("attachment") if isinstance(data, dict) else None
        url = found.get("mediaUrl") if isinstance(found, dict) else None
        if not answer.ok:
            raise convert.refusal(answer)
        if not isinstance(url, str):
            raise DeliveryError(Reason.PLATFORM_BAD_RESPONSE, detail=answer.status)
        return url, convert.media_kind(att), att.name

    def _remember(self, ext: str, conversation: str) -> str:
        self._conversations[ext] = conversation
        self._conversations.move_to_end(ext)
        while len(self._conversations) > 4096:
            self._conversations.popitem(last=False)
        return conversation

    async def _conversation(self, ext: str, sealed: str, message: Message, create: bool = True) -> str:
        """The customer's conversation: found by the user's externalId, else created (user first)."""
        found = self._conversations.get(ext)
        if found is not None:
            return found
        lock = self._locks.get(ext)
        if lock is None:
            lock = self._locks[ext] = asyncio.Lock()
        async with lock:
            instance = message.conversation.instance
            found = self._conversations.get(ext) or await self._find(ext, sealed, instance)
            if found is None and create:
                found = await self._create(ext, sealed, message)
            if found is None:
                raise _Gone
            return self._remember(ext, found)

    async def _find(self, ext: str, sealed: str, instance: str) -> str | None:
        """The conversation carrying this reference; a personal one without it is adopted (metadata added)."""
        answer = await self._api("GET", "/conversations", params={"filter[userExternalId]": ext})
        if answer.status == 404 and convert.error_code(answer) == "user_not_found":
            return None
        if not answer.ok:
            raise convert.refusal(answer)
        match, adoptable = convert.pick_conversation(answer.json(), sealed)
        if match is not None or adoptable is None:
            return match
        meta = {**(adoptable.get("metadata") or {}), **convert.conversation_metadata(sealed, instance)}
        patched = await self._api("PATCH", f"/conversations/{adoptable['id']}", json={"metadata": meta})
        if not patched.ok:
            raise convert.refusal(patched)
        return str(adoptable["id"])

    async def _create(self, ext: str, sealed: str, message: Message) -> str:
        """Create the user (409: it exists) and its personal conversation, then settle on the first
        conversation the platform lists for it, so replicas racing on a new customer agree."""
        body = convert.user_body(ext, message.sender, self.config.share_contact)
        user = await self._api("POST", "/users", json=body)
        if not user.ok and user.status != 409:
            raise convert.refusal(user)
        conv = convert.conversation_body(ext, sealed, message.conversation.instance)
        created = await self._api("POST", "/conversations", json=conv)
        if not created.ok and created.status not in (400, 409):
            raise convert.refusal(created)
        found = await self._find(ext, sealed, message.conversation.instance)
        if found is None:
            raise convert.refusal(created) if not created.ok else DeliveryError(Reason.PLATFORM_BAD_RESPONSE)
        return found

    async def _status(self, message: Message, ext: str, sealed: str) -> str:
        """A read receipt becomes `conversation:read`; a failed delivery a content-free notice for the agent."""
        if message.status not in (Status.READ, Status.FAILED):
            return ""
        try:
            conversation = await self._conversation(ext, sealed, message, create=False)
        except _Gone:
            return ""
        if message.status is Status.READ:
            answer = await self._api("POST", f"/conversations/{conversation}/activity", json=convert.read_activity(ext))
            if not answer.ok:
                raise convert.refusal(answer)
            return ""
        notice = convert.notice_body(message.reason or Reason.INTERNAL_ERROR.value)
        answer = await self._api("POST", f"/conversations/{conversation}/messages", json=notice)
        if not answer.ok:
            raise convert.refusal(answer)
        return convert.posted_id(answer) or ""

    async def fetch_media(self, file_id: str, limit: int) -> MediaStream:
        """An agent's file: from the API host with the API key (private attachments), else from Zendesk's
        media hosts without it."""
        trusted = file_id.startswith(self.config.api_base + "/")
        headers = {"Authorization": self._auth} if URL(file_id).host == self.api_host else {}
        hosts = None if trusted else MEDIA_HOSTS
        call = Call("GET", file_id, headers, timeout=self.config.upload_timeout, hosts=hosts, redirects=3)
        return await self.ctx.client.stream(call, limit)

    def tune(self, manifest: Capabilities) -> Capabilities:
        """No rate cap unless `max_rate` is set: SunCo publishes none, and its 429s pace the relay."""
        caps = super().tune(manifest)
        rate = self.config.max_rate
        return replace(caps, limits=(Limit("connector", rate=rate, burst=max(1, int(rate))),)) if rate else caps

    async def check(self) -> list[Check]:
        """The API key works, and a custom integration's webhook targets this relay with the right trigger,
        payload version and secret."""
        try:
            return await self._check()
        except DeliveryError as exc:
            return [Check(f"SunCo API at {self.config.api_base}", False, exc.reason.value)]

    async def _check(self) -> list[Check]:
        """An integration-scoped key cannot list integrations: it reads its own webhooks as `me`."""
        key = f"API key {self.config.key_id} on app {self.config.app_id}"
        ids = [self.config.integration_id] if self.config.integration_id else None
        if ids is None:
            answer = await self._api("GET", "/integrations", params={"filter[types]": "custom"})
            if answer.status in (401, 403):
                ids = ["me"]
            elif not answer.ok:
                return [Check(key, False, f"HTTP {answer.status} {convert.error_code(answer) or ''}".strip())]
            else:
                ids = convert.custom_integrations(answer.json())
        hook = self.ctx.hook_url()
        found: dict[str, Any] | None = None
        for integration in ids:
            answer = await self._api("GET", f"/integrations/{quote(integration, safe='')}/webhooks")
            if not answer.ok:
                return [Check(key, False, f"HTTP {answer.status} {convert.error_code(answer) or ''}".strip())]
            found = found or convert.webhook_to(answer.json(), hook)
        rows = [Check(key, True, f"{len(ids)} custom integration(s) readable")]
        if found is None:
            return [*rows, Check("integration webhook", False, f"none targets {hook}; see docs/connectors/zendesk.md")]
        return rows + convert.webhook_checks(found, self._webhook_key)


MANIFEST = Manifest(
    type="zendesk",
    kind=ConnectorKind.CRM,
    summary="Zendesk (Sunshine Conversations)",
    config=ZendeskConfig,
    factory=ZendeskConnector,
    capabilities=Capabilities(
        max_text=convert.MAX_TEXT,
        files=True,
        max_file_bytes=MAX_FILE,
        max_files=1,
        max_caption=convert.MAX_TEXT,
        receipts=True,
        ack_deadline=15.0,
    ),
)
