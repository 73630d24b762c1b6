"""A local fake of the Telegram Bot API (aiohttp) that validates what the relay sends and misbehaves on command."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.connectors.telegram.fake_entities import utf16, validate_entities
from tests.connectors.telegram.fake_interact import InteractFake, wanted
from tests.support.fake_platform import FakePlatform

TOKEN = "123456789:AAE-test-token-abcdefghijklmnopqrstuvwxyz"
SECRET = "fake-secret-token_0123456789"


@dataclass
class FakeTelegram(InteractFake, FakePlatform):
    """State of the fake: what was sent, queued updates, files, and failure knobs."""

    token: str = TOKEN
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    offsets: list[int | None] = field(default_factory=list)
    webhook: dict[str, Any] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    scripted: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=lambda: defaultdict(list))
    blocked: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    downloads: int = 0
    cdn: dict[str, bytes] = field(default_factory=dict)
    queries: set[str] = field(default_factory=set)
    answered: list[dict[str, Any]] = field(default_factory=list)
    reactions: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    customer_messages: set[tuple[int, int]] = field(default_factory=lambda: {(123456789, 42)})
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _new_update: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        FakePlatform.__init__(self)

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self.api)
        app.router.add_get("/file/bot{token}/{path:.*}", self.download)
        app.router.add_get("/cdn/{name}", self.serve_cdn)

    def push(self, update: dict[str, Any]) -> None:
        self.updates.append(update)
        self._new_update.set()

    def add_file(self, file_id: str, path: str, data: bytes) -> None:
        self.files[file_id] = (path, data)

    def throttle(self, method: str, retry_after: int, times: int = 1) -> None:
        body = {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {retry_after}",
            "parameters": {"retry_after": retry_after},
        }
        self.scripted[method] += [(429, body)] * times

    def methods(self) -> list[str]:
        return [m for m, _ in self.calls]

    async def _params(self, request: web.Request) -> dict[str, Any]:
        out: dict[str, Any] = dict(request.query)
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                data = await part.read()  # type: ignore[union-attr]
                name = part.name or ""  # type: ignore[union-attr]
                out[name] = bytes(data) if part.filename else data.decode()  # type: ignore[union-attr]
        elif request.content_type == "application/json":
            out.update(await request.json())
        elif request.body_exists:
            out.update(await request.post())
        for key, value in list(out.items()):
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    out[key] = json.loads(value)
        return out

    def _error(self, status: int, description: str) -> web.Response:
        self.errors.append(description)
        return web.json_response({"ok": False, "error_code": status, "description": description}, status=status)

    def _ok(self, result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    async def api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append((method, params))
        if self.scripted.get(method):
            status, body = self.scripted[method].pop(0)
            return web.json_response(body, status=status)
        handler = getattr(self, f"m_{method}", None)
        if handler is None:
            return self._error(404, "Not Found: method not found")
        result: web.StreamResponse = await handler(params)
        return result

    async def m_getMe(self, p: dict[str, Any]) -> web.Response:
        return self._ok(
            {
                "id": 123456789,
                "is_bot": True,
                "first_name": "Relay Test",
                "username": "relay_test_bot",
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        )

    async def m_setWebhook(self, p: dict[str, Any]) -> web.Response:
        self.webhook = {
            "url": p["url"],
            "secret_token": p.get("secret_token"),
            "allowed_updates": p.get("allowed_updates"),
        }
        return self._ok(True)

    async def m_deleteWebhook(self, p: dict[str, Any]) -> web.Response:
        self.webhook = {}
        return self._ok(True)

    async def m_getWebhookInfo(self, p: dict[str, Any]) -> web.Response:
        return self._ok(
            {
                "url": self.webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self.updates),
            }
        )

    async def m_getUpdates(self, p: dict[str, Any]) -> web.Response:
        if self.webhook.get("url"):
            return self._error(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = p.get("offset")
        self.offsets.append(offset)
        if isinstance(offset, int):
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        self.updates = [u for u in self.updates if wanted(u, p.get("allowed_updates"))]
        deadline = time.monotonic() + float(p.get("timeout") or 0)
        while not self.updates and time.monotonic() < deadline:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        limit = int(p.get("limit") or 100)
        return self._ok(self.updates[:limit])

    def _check_chat(self, p: dict[str, Any]) -> web.Response | None:
        if int(p["chat_id"]) in self.blocked:
            return self._error(403, "Forbidden: bot was blocked by the user")
        return None

    def _check_text(self, text: Any, entities: Any, limit: int) -> web.Response | None:
        if not isinstance(text, str) or not text.strip():
            return self._error(400, "Bad Request: message text is empty")
        if utf16(text) > limit:
            return self._error(400, "Bad Request: message is too long")
        problem = validate_entities(text, entities or [])
        if problem:
            return self._error(400, f"Bad Request: can't parse entities: {problem}")
        return None

    def _message(self, p: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat = int(p["chat_id"])
        kind = "private" if chat > 0 else "supergroup"
        msg = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat, "type": kind},
            "from": {"id": 123456789, "is_bot": True, "first_name": "Relay Test"},
            **content,
        }
        self.sent.append({"method": "", **p, "result": msg})
        return msg

    async def m_sendMessage(self, p: dict[str, Any]) -> web.Response:
        if "parse_mode" in p:
            return self._error(400, "Bad Request: the fake only accepts entities")
        problem = self._check_chat(p) or self._check_text(p.get("text"), p.get("entities"), 4096)
        if problem or (problem := self._check_markup(p)):
            return problem
        markup = {"reply_markup": p["reply_markup"]} if p.get("reply_markup") else {}
        msg = self._message(p, text=p["text"], **markup)
        self.sent[-1]["method"] = "sendMessage"
        return self._ok(msg)

    async def _send_file(self, p: dict[str, Any], field_name: str, method: str) -> web.Response:
        problem = self._check_chat(p)
        if problem:
            return problem
        if not isinstance(p.get(field_name), bytes):
            return self._error(400, f"Bad Request: there is no {field_name} in the request")
        if p.get("caption") is not None:
            problem = self._check_text(p["caption"], p.get("caption_entities"), 1024)
            if problem:
                return problem
        if problem := self._check_markup(p):
            return problem
        file = {"file_id": f"sent-{field_name}", "file_unique_id": "u", "file_size": len(p[field_name])}
        content = {"photo": [file | {"width": 1, "height": 1}]} if field_name == "photo" else {field_name: file}
        msg = self._message(p, **content)
        self.sent[-1]["method"] = method
        return self._ok(msg)

    async def m_sendPhoto(self, p: dict[str, Any]) -> web.Response:
        return await self._send_file(p, "photo", "sendPhoto")

    async def m_sendDocument(self, p: dict[str, Any]) -> web.Response:
        return await self._send_file(p, "document", "sendDocument")

    async def m_editMessageText(self, p: dict[str, Any]) -> web.Response:
        problem = self._check_text(p.get("text"), p.get("entities"), 4096)
        if problem:
            return problem
        self.edits.append(p)
        chat = int(p["chat_id"])
        return self._ok(
            {
                "message_id": int(p["message_id"]),
                "date": int(time.time()),
                "edit_date": int(time.time()),
                "chat": {"id": chat, "type": "private"},
                "text": p["text"],
            }
        )

    async def m_deleteMessage(self, p: dict[str, Any]) -> web.Response:
        self.edits.append({"deleted": True, **p})
        return self._ok(True)

    async def m_getFile(self, p: dict[str, Any]) -> web.Response:
        found = self.files.get(str(p.get("file_id")))
        if found is None:
            return self._error(400, "Bad Request: invalid file_id")
        path, data = found
        return self._ok({"file_id": p["file_id"], "file_unique_id": "u", "file_size": len(data), "file_path": path})

    async def download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        for path, data in self.files.values():
            if path == request.match_info["path"]:
                self.downloads += 1
                return web.Response(body=data, content_type="application/octet-stream")
        return web.Response(status=404)

    async def serve_cdn(self, request: web.Request) -> web.StreamResponse:
        data = self.cdn.get(request.match_info["name"])
        return web.Response(status=404) if data is None else web.Response(body=data, content_type="image/png")
