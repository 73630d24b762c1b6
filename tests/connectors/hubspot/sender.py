"""The HubSpot fake's webhook sender: an agent's reply as OUTGOING_CHANNEL_MESSAGE_CREATED, one JSON object
per POST to the channel's webhookUrl, v3-signed (ms timestamp), retried like HubSpot's webhooks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

import aiohttp
from yarl import URL

NO_RETRY = frozenset({400, 401, 403, 404, 405})
AGENT = {"actorId": "A-555", "name": "Dana Agent"}


def v3_headers(secret: str, url: str, body: bytes, stamp_ms: int | None = None, method: str = "POST") -> dict[str, str]:
    """X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp for a request to `url`."""
    stamp = str(int(time.time() * 1000) if stamp_ms is None else stamp_ms)
    mac = hmac.new(secret.encode(), method.encode() + url.encode() + body + stamp.encode(), hashlib.sha256)
    return {
        "X-HubSpot-Signature-v3": base64.b64encode(mac.digest()).decode(),
        "X-HubSpot-Request-Timestamp": stamp,
        "Content-Type": "application/json",
    }


class WebhookSender:
    """Mixed into FakeHubSpot. `relay_url` is where the relay really listens (a test server); the signature
    names the channel's registered webhookUrl, as behind a proxy. Up to 10 attempts, none after 400, 401,
    403, 404 or 405, `retry_delays` apart (HubSpot's are longer)."""

    channels: dict[str, dict[str, Any]]

    def create(self, cid: str, body: dict[str, Any], client: str) -> dict[str, Any]:
        raise NotImplementedError

    def __init__(self, secret: str) -> None:
        self.signing_secret = secret
        self.relay_url = ""
        self.retry_delays: Sequence[float] = (0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0)
        self.attempts: list[tuple[str, int]] = []

    def outgoing(self, customer: dict[str, Any], text: str, files: Sequence[str] = ()) -> dict[str, Any]:
        """An agent's reply in the thread of a customer's stored message."""
        body = {
            "channelAccountId": customer["channelAccountId"],
            "integrationThreadId": customer.get("integrationThreadId", ""),
            "messageDirection": "OUTGOING",
            "text": text,
            "senders": [AGENT],
            "recipients": [{"deliveryIdentifier": s["deliveryIdentifier"]} for s in customer.get("senders", [])],
            "attachments": [{"type": "FILE", "fileId": f} for f in files],
        }
        return self.create(customer["channelId"], body, "HUBSPOT")

    def event(self, message: dict[str, Any]) -> dict[str, Any]:
        """The webhook body for a stored message."""
        threads = [message["integrationThreadId"]] if message.get("integrationThreadId") else []
        return {
            "type": "OUTGOING_CHANNEL_MESSAGE_CREATED",
            "portalId": "243842089",
            "channelId": message["channelId"],
            "eventId": str(uuid.uuid4()),
            "eventTimestamp": message["createdAt"],
            "channelIntegrationThreadIds": threads,
            "message": {k: v for k, v in message.items() if not k.startswith("integration")},
        }

    async def post(self, channel: str, body: bytes, headers: dict[str, str] | None = None) -> int:
        """One delivery attempt; 0 when the relay could not be reached."""
        url = str(self.channels[channel]["webhookUrl"])
        target = self.relay_url.rstrip("/") + URL(url).raw_path_qs
        headers = headers or v3_headers(self.signing_secret, url, body)
        try:
            async with aiohttp.ClientSession() as session, session.post(target, data=body, headers=headers) as resp:
                await resp.read()
                return resp.status
        except aiohttp.ClientError:
            return 0

    async def deliver(self, event: dict[str, Any]) -> list[int]:
        """Post an event until it is answered 2xx, refused for good, or 10 attempts; the statuses seen."""
        body = json.dumps(event).encode()
        seen: list[int] = []
        for attempt in range(10):
            status = await self.post(str(event["channelId"]), body)
            seen.append(status)
            self.attempts.append((event["message"]["id"], status))
            if 200 <= status < 300 or status in NO_RETRY or attempt == 9:
                break
            await asyncio.sleep(self.retry_delays[min(attempt, len(self.retry_delays) - 1)])
        return seen

    async def agent_reply(
        self, customer: dict[str, Any], text: str, files: Sequence[str] = ()
    ) -> tuple[dict[str, Any], list[int]]:
        """An agent answers in the customer's thread: the message is stored, then its webhook delivered."""
        message = self.outgoing(customer, text, files)
        return message, await self.deliver(self.event(message))
