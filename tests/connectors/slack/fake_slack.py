"""A local fake of the Slack Web API, file hosts and Socket Mode endpoint, with knobs to misbehave."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.connectors.slack.fake_interact import InteractFake, blocks_problem
from tests.support.fake_platform import FakePlatform, Recorded, Rule

BOT_TOKEN = "xoxb-1111111111-2222222222-fakebottokenvalue"
APP_TOKEN = "xapp-1-A0RELAY01-3333333333-fakeapptokenvalue"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CUSTOMER = "U2147483697"
PAYLOADS = Path(__file__).parent / "payloads"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def payload(name: str, **event: Any) -> dict[str, Any]:
    """A recorded-shape event envelope, with event fields optionally replaced."""
    body: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text())
    if event:
        body["event"].update(event)
    return body


def signed(raw: bytes, secret: str = SIGNING_SECRET, stamp: int | None = None, **extra: str) -> dict[str, str]:
    """The headers Slack sends with a v0 signature."""
    ts = str(int(time.time()) if stamp is None else stamp)
    mac = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={mac}",
        "Content-Type": "application/json",
        **extra,
    }


def _params(request: Recorded) -> dict[str, Any]:
    """A recorded Web API call's parameters: the query string, then a JSON or form body."""
    params: dict[str, Any] = dict(request.query)
    kind = next((v for k, v in request.headers.items() if k.lower() == "content-type"), "")
    if kind.startswith("application/json") and request.body:
        params.update(json.loads(request.body))
    elif request.body:
        params.update(parse_qsl(request.body.decode(), keep_blank_values=True))
    return params


@dataclass
class FakeSlack(InteractFake, FakePlatform):
    """Records every Web API call; `fail(method, ...)` queues misbehaving answers."""

    token: str = BOT_TOKEN
    app_token: str = APP_TOKEN
    base: str = ""
    uploads: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, tuple[bytes, str, str]] = field(
        default_factory=lambda: {"F07ABCDEF12": (PDF, "application/pdf", "invoice-0042.pdf")}
    )
    share_ts: bool = True
    moved_to: str | None = None
    login_page: bool = False
    slow: dict[str, float] = field(default_factory=dict)
    acks: list[dict[str, Any]] = field(default_factory=list)
    ws: web.WebSocketResponse | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    acked: asyncio.Event = field(default_factory=asyncio.Event)
    posted: dict[str, dict[str, Any]] = field(default_factory=dict)
    reacted: dict[tuple[str, str], dict[str, list[str]]] = field(default_factory=dict)
    known: set[tuple[str, str]] = field(default_factory=lambda: {("D024BE91L", "1736935200.000200")})
    edit_closed: set[str] = field(default_factory=set)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        FakePlatform.__init__(self)

    def fail(self, path: str, status: int = 200, body: Any = None, **more: Any) -> Rule:
        """A fault for a Web API method (`chat.postMessage`) or a path glob; by default Slack's ok:false."""
        where = path if path.startswith("/") else f"/api/{path}"
        return super().fail(
            where, status, body if body is not None else {"ok": False, "error": "internal_error"}, **more
        )

    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        """Every Web API call received (faults included), as (method, parameters)."""
        return [(r.path.removeprefix("/api/"), _params(r)) for r in self.requests("/api/*")]

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    def _next_ts(self) -> str:
        return f"1736940000.{next(self._ts):06d}"

    async def api(self, request: web.Request) -> web.Response:
        self.base = self.base or str(request.url.origin())
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.body_exists:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(dict(await request.post()))
        if method in self.slow:
            await asyncio.sleep(self.slow[method])
        expected = self.app_token if method == "apps.connections.open" else self.token
        if request.headers.get("Authorization") != f"Bearer {expected}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        return web.json_response(handler(params))

    def m_auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://acme-support.slack.com/",
            "team": "Acme Support",
            "user": "relay",
            "team_id": "T0AB12CD3",
            "user_id": "U0RELAYBOT",
            "bot_id": "B0RELAYBOT",
            "is_enterprise_install": False,
        }

    def m_users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("user") != CUSTOMER:
            return {"ok": False, "error": "user_not_found"}
        return {
            "ok": True,
            "user": {
                "id": CUSTOMER,
                "team_id": "T0CUSTOMER",
                "name": "dana",
                "real_name": "Dana Scully",
                "is_bot": False,
                "locale": "en-US",
                "profile": {"display_name": "Dana", "real_name": "Dana Scully", "email": "dana@customer.example"},
            },
        }

    def m_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        if "blocks" in p and (problem := blocks_problem(p["blocks"])):
            return {"ok": False, "error": "invalid_blocks", "errors": [problem]} | {
                "response_metadata": {"messages": [f"[ERROR] {problem}"]}
            }
        ts = self._next_ts()
        self.posted[ts] = p
        return {
            "ok": True,
            "channel": p["channel"],
            "ts": ts,
            "message": {"type": "message", "text": p.get("text"), "bot_id": "B0RELAYBOT", "ts": ts},
        }

    def m_files_info(self, p: dict[str, Any]) -> dict[str, Any]:
        found = self.files.get(p.get("file", ""))
        if found is None:
            return {"ok": False, "error": "file_not_found"}
        data, mime, name = found
        fid = p["file"]
        step = "download" if self.moved_to is None else "moved"
        return {
            "ok": True,
            "file": {
                "id": fid,
                "name": name,
                "mimetype": mime,
                "size": len(data),
                "url_private": f"{self.base}/files-pri/T0AB12CD3-{fid}/{name}",
                "url_private_download": f"{self.base}/files-pri/T0AB12CD3-{fid}/{step}/{name}",
            },
        }

    def m_files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        fid = f"F0UP{next(self._ts):07d}"
        return {"ok": True, "upload_url": f"{self.base}/upload/v1/{fid}", "file_id": fid}

    def m_files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        listed = json.loads(p["files"])
        missing = [f["id"] for f in listed if f["id"] not in self.uploads]
        if missing:
            return {"ok": False, "error": "file_not_found"}
        ts = self._next_ts()
        shares = {"public": {p["channel_id"]: [{"ts": ts, "thread_ts": p.get("thread_ts")}]}} if self.share_ts else {}
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title"), "shares": shares} for f in listed]}

    def m_apps_connections_open(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.base.replace("http://", "ws://") + "/link/?ticket=fake-ticket-123"}

    async def upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["fid"]] = await request.read()
        return web.Response(text=f"OK - {len(self.uploads[request.match_info['fid']])}")

    async def download(self, request: web.Request) -> web.Response:
        if self.login_page or request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.Response(text="<!DOCTYPE html><title>Sign in | Slack</title>", content_type="text/html")
        fid = request.match_info["team_file"].split("-", 1)[1]
        data, mime, _name = self.files[fid]
        return web.Response(body=data, content_type=mime)

    async def moved(self, request: web.Request) -> web.Response:
        """A file URL that redirects to the download on `moved_to` (another host, or this one)."""
        target = f"{self.moved_to}/files-pri/{request.match_info['team_file']}/download/{request.match_info['name']}"
        raise web.HTTPFound(target)

    async def link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.ws = ws
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "connection_info": {"app_id": "A0RELAY01"},
                "debug_info": {"host": "fake", "approximate_connection_time": 18060},
            }
        )
        self.connected.set()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                self.acks.append(json.loads(msg.data))
                self.acked.set()
        return ws

    async def push(
        self, body: dict[str, Any], envelope_id: str, retry_attempt: int = 0, kind: str = "events_api"
    ) -> None:
        """Send an envelope (events_api, or interactive for a block_actions payload) over the socket, as Slack does."""
        assert self.ws is not None
        await self.ws.send_json(
            {
                "envelope_id": envelope_id,
                "payload": body,
                "type": kind,
                "accepts_response_payload": False,
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )

    async def _shutdown(self, app: web.Application) -> None:
        if self.ws is not None:
            await self.ws.close()

    def routes(self, app: web.Application) -> None:
        app.on_shutdown.append(self._shutdown)
        app.router.add_route("*", "/api/{method}", self.api)
        app.router.add_post("/upload/v1/{fid}", self.upload)
        app.router.add_get("/files-pri/{team_file}/download/{name}", self.download)
        app.router.add_get("/files-pri/{team_file}/moved/{name}", self.moved)
        app.router.add_get("/link/", self.link)
