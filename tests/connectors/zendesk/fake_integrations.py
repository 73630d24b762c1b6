"""The SunCo fake's integrations: their API, custom integrations with scoped keys, and the webhook sender
(X-API-Key, every message whatever its author, up to 5 attempts unless answered 2xx or a non-recoverable 4xx)."""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from tests.connectors.zendesk.fake_rules import err, now
from tests.support.background import Background

WEBHOOK_SECRET = "8564b3e6a8b20a4bdb68b05ce9bc5936"
NO_RETRY = frozenset({400, 401, 403, 404, 406})
INTEGRATION: web.RequestKey[str | None] = web.RequestKey("sunco.integration")


@dataclass
class Delivery:
    """One webhook POST attempt: the events it carried and the status it got (None: no answer in time)."""

    event_ids: list[str]
    status: int | None
    attempt: int


class Integrations:
    """Mixed into FakeSunco, whose integrations, keys and delivery settings these methods share."""

    app_id: str
    webhook_timeout: float
    retry_base: float
    integrations: dict[str, dict[str, Any]]
    deliveries: list[Delivery]
    duplicate_webhooks: bool
    keys: dict[str, tuple[str, str | None]]
    background: Background

    def _id(self) -> str:
        raise NotImplementedError

    def _denied(self, request: web.Request) -> web.Response | None:
        raise NotImplementedError

    async def list_integrations(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        if request[INTEGRATION] is not None:
            return err(403, "forbidden", "Insufficient scope")
        types = request.query.get("filter[types]")
        found = [i for i in self.integrations.values() if types is None or i["type"] in types.split(",")]
        return web.json_response({"integrations": found, "meta": {"hasMore": False}})

    async def list_webhooks(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        wanted = request.match_info["integration"]
        own = request[INTEGRATION]
        integration = self.integrations.get(own if wanted == "me" and own else wanted)
        if integration is None or own not in (None, integration["id"]):
            return err(404, "not_found", "Integration not found")
        return web.json_response({"webhooks": integration["webhooks"]})

    def add_webhook(
        self, target: str, secret: str = WEBHOOK_SECRET, triggers: tuple[str, ...] = ("conversation:message",)
    ) -> dict[str, Any]:
        """A custom integration with one v2 webhook (SunCo allows exactly one per custom integration)."""
        hook: dict[str, Any] = {"id": self._id(), "version": "v2", "target": target, "secret": secret}
        hook["triggers"] = list(triggers)
        key = self._id()
        self.integrations[key] = {"id": key, "type": "custom", "displayName": "Relay", "webhooks": [hook]}
        return hook

    def integration_key(self, hook: dict[str, Any]) -> tuple[str, str]:
        """An API key (id, secret) scoped to the custom integration that owns `hook`, as Admin Center makes."""
        owner = next(i["id"] for i in self.integrations.values() if hook in i["webhooks"])
        key_id, secret = f"int_{self._id()}", secrets.token_urlsafe(32)
        self.keys[key_id] = (secret, owner)
        return key_id, secret

    def _fire(self, conv: dict[str, Any], message: dict[str, Any]) -> None:
        for integration in self.integrations.values():
            for hook in integration["webhooks"]:
                if "conversation:message" in hook["triggers"]:
                    shown = {k: conv[k] for k in ("id", "type", "metadata", "activeSwitchboardIntegration")}
                    payload = {"conversation": shown, "message": message}
                    event = {"id": self._id(), "type": "conversation:message", "createdAt": now(), "payload": payload}
                    body = {
                        "app": {"id": self.app_id},
                        "webhook": {"id": hook["id"], "version": "v2"},
                        "events": [event],
                    }
                    self.background.spawn(self._send(hook, body))

    async def _send(self, hook: dict[str, Any], body: dict[str, Any]) -> None:
        """Up to 5 attempts, exponentially spaced; none after a 2xx or a non-recoverable 4xx."""
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "X-API-Key": hook["secret"], "User-Agent": "Zendesk-Webhook"}
        ids = [e["id"] for e in body["events"]]
        for attempt in range(5):
            status: int | None = None
            try:
                timeout = aiohttp.ClientTimeout(total=self.webhook_timeout)
                post = self.background.session().post(hook["target"], data=raw, headers=headers, timeout=timeout)
                async with post as resp:
                    await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError):
                status = None
            self.deliveries.append(Delivery(ids, status, attempt + 1))
            if status is not None and (200 <= status < 300 or status in NO_RETRY):
                if self.duplicate_webhooks and 200 <= status < 300 and attempt == 0:
                    continue
                return
            await asyncio.sleep(self.retry_base * 2**attempt)

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until every webhook delivery in flight has finished (answered, or given up)."""
        await self.background.settle(timeout)

    async def close(self) -> None:
        await self.background.close()
