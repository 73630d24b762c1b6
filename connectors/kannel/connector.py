"""Kannel connector: SMS through a self-hosted Kannel gateway (sendsms out, sms-service and DLR callbacks in)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from connectors.kannel import convert, inbound
from connectors.kannel.config import KannelConfig
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
    Result,
)
from relay.errors import DeliveryError
from relay.model import Kind, Message
from relay.reasons import Reason
from relay.receipts import Ranks
from relay.smstext import handset_text

DLR_QUERY = "?id={id}&status=%d&to=%p"


class KannelConnector(Connector):
    """SMS through Kannel's smsbox: the gateway holds the SMSC links, the relay translates."""

    config: KannelConfig

    def __init__(self, name: str, config: KannelConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        self.secret = config.callback_secret.reveal()
        self.ranks = Ranks(ctx.state, ctx.sealer, "kn:", name)
        self.networks = config.networks()
        self.extra = {"username": config.username, "password": config.password.reveal()}
        self.extra["dlr-mask"] = str(config.dlr_mask)
        if config.from_number:
            self.extra["from"] = config.from_number
        if config.smsc:
            self.extra["smsc"] = config.smsc

    def tune(self, manifest: Capabilities) -> Capabilities:
        """The configured length and rates (Kannel takes `max_rate` sends a second; each recipient its own)."""
        caps = super().tune(manifest)
        c = self.config
        limits = (
            Limit("connector", rate=c.max_rate, per=1.0, burst=max(1, int(c.max_rate))),
            Limit("chat", rate=c.recipient_rate, per=1.0, burst=c.recipient_burst),
        )
        return replace(caps, max_text=c.max_length, limits=limits)

    def routes(self) -> Sequence[Hook]:
        def authenticate(request: HookRequest) -> None:
            inbound.authenticate(self.secret.encode(), self.networks, request)

        def message(request: HookRequest, _: Any) -> Inbound:
            return inbound.parse_message(self.name, request)

        return (
            Hook("GET", "/mo/{token}", authenticate, message),
            Hook("GET", "/dlr/{token}", authenticate, self._report, settle=self._settle_report),
        )

    async def _report(self, request: HookRequest, _: Any) -> Inbound:
        found = inbound.parse_report(self.name, request)
        return Inbound() if found is None else await self.ranks.fresh(*found)

    async def _settle_report(self, message: Message, result: Result) -> Result:
        raw = message.id.rpartition(":")[2]
        rank = convert.DLR[int(raw)][1] if raw.isdigit() and int(raw) in convert.DLR else 0
        return await self.ranks.settle(message, result, rank)

    async def send(self, message: Message) -> str:
        to = convert.number(message.conversation.chat)
        if not to:
            raise DeliveryError(Reason.INVALID_RECIPIENT)
        text = handset_text(message.text)
        if not text.strip():
            raise DeliveryError(Reason.EMPTY_MESSAGE)
        sid = "k" + secrets.token_hex(12)
        dlr_url = self.ctx.hook_url(f"/dlr/{quote(self.secret)}") + DLR_QUERY.format(id=sid)
        extra = {**self.extra, "dlr-mask": "0"} if message.kind is Kind.NOTICE else self.extra
        call = convert.sendsms(self.config.sendsms_url, to, text, dlr_url, extra, self.config.timeout)
        convert.accepted(await self.ctx.client.call(call))
        return sid

    async def check(self) -> list[Check]:
        """Kannel's sendsms with the credentials and no recipient: 403 means they are wrong."""
        what = "Kannel sendsms and credentials"
        params = {"username": self.config.username, "password": self.config.password.reveal()}
        try:
            answer = await self.ctx.client.call(
                Call("GET", self.config.sendsms_url, params=params, timeout=self.config.timeout)
            )
        except DeliveryError as exc:
            return [Check(what, False, exc.reason.value)]
        if answer.status in (401, 403):
            return [Check(what, False, f"HTTP {answer.status}: username or password refused")]
        return [Check(what, answer.status < 500, f"HTTP {answer.status}")]


MANIFEST = Manifest(
    type="kannel",
    kind=ConnectorKind.MESSENGER,
    summary="SMS through a Kannel gateway",
    config=KannelConfig,
    factory=KannelConnector,
    capabilities=Capabilities(max_text=1530, text_unit="utf16", ack_deadline=10.0, consent_keywords=True),
)
