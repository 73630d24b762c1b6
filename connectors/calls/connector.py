"""Calls connector: call events become CALL messages in the caller's conversation, so an agent sees "missed call,
14:02" beside the chat. Nothing is sent back and nothing is stored; recordings pass only as links, on request."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from connectors.calls import convert, inbound
from connectors.calls.config import CallsConfig
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
    Manifest,
    MediaStream,
)
from relay.errors import DeliveryError, MediaError
from relay.model import Message
from relay.reasons import Reason


class CallsConnector(Connector):
    """Receives call events; has no one to send to (answers go to the messenger whose conversation it joins)."""

    config: CallsConfig

    def __init__(self, name: str, config: CallsConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        self.home = config.conversation_instance or name
        self.wanted = frozenset(config.statuses)

    def routes(self) -> Sequence[Hook]:
        hooks = []
        if self.config.secret is not None:
            secret = self.config.secret.reveal().encode()

            def signed(request: HookRequest) -> None:
                inbound.authenticate_event(secret, request)

            hooks.append(Hook("POST", "/events", signed, self._event))
        if self.config.twilio_auth_token is not None:
            token, url = self.config.twilio_auth_token.reveal().encode(), self.ctx.hook_url("/twilio")

            def twilio(request: HookRequest) -> dict[str, str]:
                return inbound.authenticate_twilio(token, url, request)

            hooks.append(Hook("POST", "/twilio", twilio, self._twilio))
        return hooks

    def _event(self, request: HookRequest, _: Any) -> Inbound:
        event = inbound.parse_event(self.name, self.home, self.config.links, request)
        if event.status.value not in self.wanted:
            return Inbound()
        return Inbound.of(convert.from_event(self.name, self.home, event, self.config.links))

    def _twilio(self, request: HookRequest, form: dict[str, str]) -> Inbound:
        account = self.config.twilio_account_sid or ""
        found = inbound.parse_twilio(self.name, self.home, account, self.config.links, form)
        wanted = [g for g in found.groups if g[0].call is not None and g[0].call.status.value in self.wanted]
        return Inbound(tuple(wanted))

    async def send(self, message: Message) -> str:
        """Nothing can be sent to a call; a reply to a call-only conversation is refused, not dropped."""
        raise DeliveryError(Reason.UNSUPPORTED)

    async def fetch_media(self, file_id: str, limit: int) -> MediaStream:
        """A Twilio call recording (as MP3), fetched with the account's credentials when a CRM opens its link."""
        token, account = self.config.twilio_auth_token, self.config.twilio_account_sid
        path = convert.recording_path(account, file_id) if token and account else None
        if path is None or token is None or account is None:
            raise MediaError("not a Twilio recording of this account")
        auth = "Basic " + base64.b64encode(f"{account}:{token.reveal()}".encode()).decode()
        call = Call(
            "GET",
            f"{self.config.twilio_api_base_url}{path}",
            {"Authorization": auth},
            timeout=120.0,
            read_timeout=30.0,
            redirects=3,
            hosts=self.config.media_hosts,
        )
        return await self.ctx.client.stream(call, limit, mime="audio/mpeg", name="recording.mp3")

    async def check(self) -> list[Check]:
        """Nothing to reach: events are pushed to the relay; says which sources and conversations are set up."""
        sources = [
            name
            for name, on in (("signed JSON", self.config.secret), ("Twilio Voice", self.config.twilio_auth_token))
            if on
        ]
        home = self.config.conversation_instance or "this instance"
        return [Check("configuration", True, f"{', '.join(sources)} in; events join conversations of {home}")]


MANIFEST = Manifest(
    type="calls",
    kind=ConnectorKind.MESSENGER,
    summary="Call events (Twilio Voice, a PBX or an answering service)",
    config=CallsConfig,
    factory=CallsConnector,
    capabilities=Capabilities(max_text=1000, ack_deadline=10.0),
)
