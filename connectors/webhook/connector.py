"""Webhook CRM connector: POST signed JSON to the CRM; receive signed answers."""

from __future__ import annotations

import json
from collections.abc import Sequence

import aiohttp
from aiohttp import web

from connectors.webhook import inbound
from connectors.webhook.convert import WebhookConfig, to_payload
from relay import codec
from relay.connector import Capabilities, Check, Connector, ConnectorKind, Context, Limit, Manifest, Route
from relay.errors import DeliveryError, MediaError
from relay.http import sign
from relay.keyed import HmacSha256
from relay.model import Address, Message


def _retry_after(resp: aiohttp.ClientResponse) -> float | None:
    try:
        return float(resp.headers.get("Retry-After", ""))
    except ValueError:
        return None


class WebhookConnector(Connector):
    """Relay -> CRM: JSON POST signed with X-Relay-Signature. CRM -> relay: POST /hooks/<instance>."""

    config: WebhookConfig

    def __init__(self, name: str, config: WebhookConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        self.key = config.secret.reveal().encode()
        self.mac = HmacSha256(self.key)
        self.inbound_key = (config.inbound_secret or config.secret).reveal().encode()
        self.timeout = aiohttp.ClientTimeout(total=config.timeout)

    def routes(self) -> Sequence[Route]:
        async def post(request: web.Request) -> web.Response:
            return await inbound.handle(self, request)

        return (Route("POST", "", post), Route("POST", "/", post))

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
        payload = to_payload(message, conversation, self.ctx.media.link, inline)
        body = codec.dumps(payload)
        headers = {
            "Content-Type": "application/json",
            "X-Relay-Signature": sign(self.mac, body),
            "X-Relay-Event-Id": self.ctx.sealer.digest(message.dedup_id),
        }
        try:
            async with self.ctx.session.post(
                self.config.url, data=body, headers=headers, allow_redirects=False, timeout=self.timeout
            ) as resp:
                if resp.status == 429 or (resp.status == 503 and "Retry-After" in resp.headers):
                    raise DeliveryError(
                        "crm_throttled", retryable=True, retry_after=_retry_after(resp), scope="connector"
                    )
                if resp.status >= 500:
                    raise DeliveryError(f"crm_http_{resp.status}", retryable=True, scope="connector")
                if resp.status >= 300:
                    raise DeliveryError(f"crm_rejected_{resp.status}")
                return await _crm_id(resp) or headers["X-Relay-Event-Id"]
        except aiohttp.ClientConnectionError:
            raise DeliveryError("crm_unreachable", retryable=True, scope="connector") from None
        except TimeoutError:
            raise DeliveryError("crm_timeout", retryable=True, scope="connector") from None

    def limits(self, address: Address) -> Sequence[Limit]:
        """No cap unless `max_rate` is set: the CRM's 429 / Retry-After paces the relay."""
        rate = self.config.max_rate
        return (Limit("connector", rate=rate, per=1.0, burst=max(1, int(rate))),) if rate else ()

    async def check(self) -> list[Check]:
        probe = json.dumps({"type": "ping"}).encode()
        headers = {"Content-Type": "application/json", "X-Relay-Signature": sign(self.key, probe)}
        try:
            async with self.ctx.session.post(
                self.config.url, data=probe, headers=headers, allow_redirects=False
            ) as resp:
                ok = resp.status < 300
                return [Check("POST ping to the CRM URL", ok, f"HTTP {resp.status}")]
        except (aiohttp.ClientError, TimeoutError) as exc:
            return [Check("POST ping to the CRM URL", False, type(exc).__name__)]


async def _crm_id(resp: aiohttp.ClientResponse) -> str | None:
    raw = await resp.read()
    if not raw.lstrip().startswith(b"{"):
        return None
    try:
        data = codec.loads(raw)
    except ValueError:
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return str(value) if isinstance(value, str | int) and value != "" else None


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
    ),
)
