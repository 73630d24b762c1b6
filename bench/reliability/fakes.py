"""Fakes that misbehave on command: a Bot API that throttles, a CRM that refuses, fails, hangs or throttles."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.crm_sink import CrmSink

BOT_TOKEN = "123456789:AAE-reliability-token-abcdefghijklmnop"
BOT_SECRET = "reliability-secret-token_0123456789"
MARKER = re.compile(r"rel-[0-9a-f]+-\d+")


def markers(text: str) -> list[str]:
    """The message markers a text carries."""
    return MARKER.findall(text)


class Server:
    """An aiohttp app on a fixed 127.0.0.1 port that can be closed (connections refused) and reopened."""

    def __init__(self, app: web.Application, port: int) -> None:
        self.app = app
        self.port = port
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def open(self) -> None:
        if self.runner is None:
            self.runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.5)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def close(self) -> None:
        if self.runner is not None:
            runner, self.runner = self.runner, None
            await runner.cleanup()


@dataclass
class FaultyCrm(CrmSink):
    """The CRM sink with a timed fault: until `fault_until` every verified post gets `fault` ("500", "429",
    "hang": wait `hang_seconds` then 500; "late": accepted, answered only after `hang_seconds`). Accepted
    messages are recorded by marker."""

    fault: str = "none"
    fault_until: float = 0.0
    faulted: int = 0

    def set_fault(self, fault: str, seconds: float) -> None:
        self.fault, self.fault_until = fault, time.monotonic() + seconds

    async def handle(self, request: web.Request) -> web.Response:
        if self.fault == "late" and time.monotonic() < self.fault_until:
            answer = await super().handle(request)
            self.faulted += 1
            await asyncio.sleep(self.hang_seconds)
            return answer
        if self.fault != "none" and time.monotonic() < self.fault_until:
            raw = await request.read()
            if "X-Relay-Signature" not in request.headers or not raw:
                return web.json_response({"error": "bad signature"}, status=401)
            self.faulted += 1
            if self.fault == "hang":
                await asyncio.sleep(self.hang_seconds)
                return self._failure(500)
            return self._failure(int(self.fault))
        return await super().handle(request)

    def accepted(self) -> list[tuple[str, str]]:
        """(marker, X-Relay-Event-Id) of every accepted message post."""
        return [
            (m, event)
            for body, event in zip(self.received, self.event_ids, strict=True)
            if body.get("type") == "message"
            for m in markers(str(body.get("message", {}).get("text", "")))
        ]

    def notices(self) -> int:
        return len(self.messages("status"))


@dataclass
class FakeBotApi:
    """A small Telegram Bot API: setWebhook and sendMessage; sendMessage answers 429 until `throttle_until`."""

    token: str = BOT_TOKEN
    sent: list[str] = field(default_factory=list)
    throttled: int = 0
    throttle_until: float = 0.0
    retry_after: int = 1
    webhook: dict[str, Any] = field(default_factory=dict)
    _next: int = 5000

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self.api)
        return app

    async def _params(self, request: web.Request) -> dict[str, Any]:
        out: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            out.update(await request.json())
        elif request.can_read_body:
            out.update(await request.post())
        for key, value in list(out.items()):
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    out[key] = json.loads(value)
        return out

    async def api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method, p = request.match_info["method"], await self._params(request)
        if method == "sendMessage":
            if time.monotonic() < self.throttle_until:
                self.throttled += 1
                body = {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {self.retry_after}",
                    "parameters": {"retry_after": self.retry_after},
                }
                return web.json_response(body, status=429)
            self.sent.append(str(p.get("text", "")))
            self._next += 1
            chat = int(p["chat_id"])
            msg = {"message_id": self._next, "date": int(time.time()), "chat": {"id": chat, "type": "private"}}
            return web.json_response({"ok": True, "result": msg | {"text": p.get("text", "")}})
        if method == "setWebhook":
            self.webhook = {"url": p.get("url"), "secret_token": p.get("secret_token")}
        if method == "getMe":
            me = {"id": 123456789, "is_bot": True, "first_name": "Relay", "username": "relay_rel_bot"}
            return web.json_response({"ok": True, "result": me})
        return web.json_response({"ok": True, "result": True})

    def delivered(self) -> list[tuple[str, str]]:
        """(marker, "") of every message sent; Telegram has no idempotency key."""
        return [(m, "") for text in self.sent for m in markers(text)]

    def notices(self) -> int:
        return sum(1 for text in self.sent if "could not be delivered" in text)
