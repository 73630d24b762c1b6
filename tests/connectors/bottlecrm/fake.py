"""A tiny in-memory fake of the BottleCRM endpoints the connector uses, on the shared fake-platform base."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web

from relay.http import sign
from tests.support.fake_platform import FakePlatform, Rule

TOKEN = "bcrm_pat_fake-token-0123456789"
SECRET = "whsec_fake-secret-0123456789"
RELAY_PROFILE = "bbbbbbbb-0000-4000-8000-000000000002"
AGENT_PROFILE = "aaaaaaaa-0000-4000-8000-000000000001"
PAYLOADS = Path(__file__).with_name("payloads")


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text())
    return data


def signed(body: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, {"Content-Type": "application/json", "X-BottleCRM-Signature": sign(secret.encode(), raw)}


class FakeCrm(FakePlatform):
    """Records keyed by kind ("contact", "lead", "case"); `script` makes a path prefix fail for a while."""

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, dict[str, dict[str, Any]]] = {"contact": {}, "lead": {}, "case": {}}
        self.interactions: list[dict[str, Any]] = []
        self.comments: list[tuple[str, str]] = []

    @property
    def calls(self) -> list[str]:
        """Every request as "METHOD /path"."""
        return [f"{r.method} {r.path}" for r in self.recorded]

    def script(self, prefix: str, status: int, times: int = 1) -> Rule:
        """The next `times` requests under `prefix` get `status` (with Retry-After: 7)."""
        return self.fail(f"{prefix}*", status, {"detail": "fail"}, headers={"Retry-After": "7"}, times=times)

    def add(self, home: str, rid: str | None = None, **fields: Any) -> str:
        rid = rid or str(uuid.uuid4())
        self.records[home][rid] = {"id": rid, "description": None, **fields}
        return rid

    def app(self) -> web.Application:
        app = super().app()
        app.middlewares.append(self._auth)
        return app

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/profile/", self.profile)
        app.router.add_get("/api/webhooks/", self.webhooks)
        app.router.add_post("/api/interactions/", self.interaction)
        for home in ("contact", "lead"):
            app.router.add_post(f"/api/{home}s/duplicates/", self.duplicates)
            app.router.add_get(f"/api/{home}s/", self.listing)
            app.router.add_post(f"/api/{home}s/", self.create)
            app.router.add_get(f"/api/{home}s/{{id}}/", self.detail)
            app.router.add_patch(f"/api/{home}s/{{id}}/", self.update)
            app.router.add_post(f"/api/{home}s/{{id}}/", self.comment)
        app.router.add_get("/api/cases/{id}/", self.detail)

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"detail": "auth"}, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    @staticmethod
    def _home(request: web.Request) -> str:
        return {"contacts": "contact", "leads": "lead", "cases": "case"}[request.path.split("/")[2]]

    async def profile(self, request: web.Request) -> web.Response:
        return web.json_response({"user_obj": {"id": RELAY_PROFILE, "role": "ADMIN"}})

    async def webhooks(self, request: web.Request) -> web.Response:
        return web.json_response({"detail": "API tokens and organization API keys cannot read ..."}, status=403)

    async def duplicates(self, request: web.Request) -> web.Response:
        query = await request.json()
        hits = [
            {"id": r["id"], "matched_on": [k]}
            for r in self.records[self._home(request)].values()
            for k in ("phone", "email")
            if query.get(k) and r.get(k) == query[k]
        ]
        return web.json_response({"duplicates": hits})

    async def listing(self, request: web.Request) -> web.Response:
        home, name = self._home(request), request.query.get("name", "")
        rows = [r for r in self.records[home].values() if name in f"{r.get('first_name')} {r.get('last_name')}"]
        if home == "lead":
            return web.json_response({"open_leads": {"leads_count": len(rows), "open_leads": rows}})
        return web.json_response({"count": len(rows), "results": rows})

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        home = self._home(request)
        if home == "lead" and not all(k in body for k in ("assigned_to", "contacts", "teams")):
            return web.json_response({"error": True}, status=400)
        rid = self.add(home, **body)
        return web.json_response({"error": False, "id": rid})

    async def detail(self, request: web.Request) -> web.Response:
        home = self._home(request)
        record = self.records[home].get(request.match_info["id"])
        if record is None:
            return web.json_response({"detail": "Not found."}, status=404)
        key = "cases_obj" if home == "case" else f"{home}_obj"
        return web.json_response({key: record})

    async def update(self, request: web.Request) -> web.Response:
        self.records[self._home(request)][request.match_info["id"]].update(await request.json())
        return web.json_response({"error": False})

    async def comment(self, request: web.Request) -> web.Response:
        text = (await request.json())["comment"]
        self.comments.append((request.match_info["id"], text))
        return web.json_response({"comments": [{"id": str(uuid.uuid4()), "comment": text}]})

    async def interaction(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("kind") not in ("call", "meeting", "email", "whatsapp", "sms"):
            return web.json_response({"kind": ["invalid"]}, status=400)
        item = {"id": str(uuid.uuid4()), "logged_by": RELAY_PROFILE, **body}
        self.interactions.append(item)
        return web.json_response(item, status=201)
