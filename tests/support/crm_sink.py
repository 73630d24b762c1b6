"""A fake CRM webhook endpoint that verifies signatures and misbehaves on command."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from relay.errors import AuthError
from relay.http import verify
from tests.support.fake_platform import FakePlatform

SINK_SECRET = "sink-secret-0123456789abcdef"


@dataclass
class CrmSink(FakePlatform):
    """A webhook CRM on the fake-platform base: records verified posts. The next `fail_times` answers are
    `fail_status` (429 with Retry-After); `mode` sets lasting behaviour: "ok", "400" (reject), "500",
    "429", or "hang"; `fail()` adds any other fault rule."""

    secret: str = SINK_SECRET
    received: list[dict[str, Any]] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    mode: str = "ok"
    retry_after: int = 1
    hang_seconds: float = 30.0
    fail_times: int = 0
    fail_status: int = 500
    calls: int = 0
    bad_signatures: int = 0
    delay: float = 0.0
    call_times: list[float] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            verify(self.secret.encode(), request.headers.get("X-Relay-Signature"), raw)
        except AuthError:
            self.bad_signatures += 1
            return web.json_response({"error": "bad signature"}, status=401)
        self.calls += 1
        self.call_times.append(time.monotonic())
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_times > 0:
            self.fail_times -= 1
            return self._failure(self.fail_status)
        if self.mode != "ok":
            return await self._misbehave()
        body = json.loads(raw)
        self.received.append(body)
        self.event_ids.append(request.headers.get("X-Relay-Event-Id", ""))
        return web.json_response({"id": f"crm-{len(self.received)}"})

    def _failure(self, status: int) -> web.Response:
        if status == 429:
            return web.json_response({}, status=429, headers={"Retry-After": str(self.retry_after)})
        return web.json_response({"error": "failure"}, status=status)

    async def _misbehave(self) -> web.Response:
        if self.mode == "hang":
            await asyncio.sleep(self.hang_seconds)
            return self._failure(500)
        return self._failure(int(self.mode))

    def messages(self, type_: str = "message") -> list[dict[str, Any]]:
        return [b for b in self.received if b.get("type") == type_]

    def __post_init__(self) -> None:
        FakePlatform.__init__(self)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/crm", self.handle)
