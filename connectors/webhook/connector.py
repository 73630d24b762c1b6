"""Webhook CRM connector: manifest, the signed POST to the CRM, the signed answers route, check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial

from connectors.webhook import convert, inbound
from connectors.webhook.config import WebhookConfig
from relay.connector import (
    Capabilities,
    Check,
    Connector,
    ConnectorKind,
    Context,
    Hook,
    Limit,
    Manifest,
)
from relay.errors import DeliveryError, MediaError
from relay.keyed import HmacSha256
from relay.model import Message


class WebhookConnector(Connector):
    """Relay -> CRM: JSON POST signed with X-Relay-Signature. CRM -> relay: POST /hooks/<instance>."""

    config: WebhookConfig

    def __init__(self, name: str, config: WebhookConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        self.macs = tuple(HmacSha256(s.reveal().encode()) for s in (config.secret, config.previous_secret) if s)
        inbound_key = (config.inbound_secret or config.secret).reveal().encode()
        previous = config.previous_secret.reveal().encode() if config.previous_secret else None
        self.inbound_keys = (inbound_key, previous) if previous else (inbound_key,)
        self._url_fault: str | None = None

    def routes(self) -> Sequence[Hook]:
        authenticate = partial(inbound.authenticate, self.name, self.inbound_keys)
        parse = partial(inbound.parse, self.name, self.ctx.sealer, self.ctx.media.allowlist)
        signed_query = partial(inbound.authenticate_query, self.name, self.inbound_keys)
        sealer, peer = self.ctx.sealer, self.ctx.messenger
        return (
            Hook("POST", "", authenticate, parse, 422),
            Hook("POST", "/", authenticate, parse, 422),
            Hook("POST", "/conversations", authenticate, partial(inbound.start, self.name, sealer, peer), 422),
            Hook("GET", "/templates", signed_query, partial(inbound.templates, self.name, peer), 422),
        )

    async def _inline(self, message: Message) -> dict[int, bytes]:
        cap = self.config.inline_media_max
        out: dict[int, bytes] = {}
        for i, att in enumerate(message.attachments):
            if cap and att.size is not None and att.size <= cap:
                try:
                    out[i] = await self.ctx.media.read(att, cap)
                except MediaError:
                    continue
        return out

    async def send(self, message: Message) -> str:
        conversation = self.ctx.sealer.seal(message.conversation)
        inline = await self._inline(message) if message.attachments and self.config.inline_media_max else {}
        payload = convert.to_payload(message, conversation, self.ctx.media.link, inline)
        event_id = self.ctx.sealer.digest(message.dedup_id)
        call = convert.to_call(self.config.url, self.macs, event_id, payload, self.config.timeout)
        answer = await self.ctx.client.call(call)
        self._url_fault = convert.url_fault(self.name, answer.status)
        if not answer.ok:
            raise answer.refusal(idempotent=True)
        return convert.crm_id(answer.body) or event_id

    def health(self) -> str | None:
        """The CRM URL answered 404 or a redirect on the last delivery: messages are retried until it is fixed."""
        return self._url_fault

    def tune(self, manifest: Capabilities) -> Capabilities:
        """No rate cap unless `max_rate` is set: the CRM's 429 / Retry-After paces the relay."""
        caps = super().tune(manifest)
        rate = self.config.max_rate
        return (
            replace(caps, limits=(Limit("connector", rate=rate, per=1.0, burst=max(1, int(rate))),)) if rate else caps
        )

    async def check(self) -> list[Check]:
        what = "POST ping to the CRM URL"
        event_id, payload = convert.ping(self.name)
        call = convert.to_call(self.config.url, self.macs, event_id, payload, self.config.timeout)
        try:
            answer = await self.ctx.client.call(call)
        except DeliveryError as exc:
            return [Check(what, False, exc.reason.value)]
        fault = convert.url_fault(self.name, answer.status)
        return [Check(what, answer.ok, fault or f"HTTP {answer.status}")]


MANIFEST = Manifest(
    type="webhook",
    kind=ConnectorKind.CRM,
    summary="Generic CRM webhook",
    config=WebhookConfig,
    factory=WebhookConnector,
    capabilities=Capabilities(
        max_text=100_000,
        threads=True,
        replies=True,
        edits=True,
        deletes=True,
        reactions=True,
        files=True,
        max_file_bytes=1 << 40,
        receipts=True,
        ack_deadline=10.0,
        calls=True,
        failures_in_answer=True,
    ),
)
