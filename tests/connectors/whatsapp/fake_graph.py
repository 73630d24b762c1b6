"""A local fake of the Graph API endpoints the WhatsApp connector uses, with knobs to misbehave."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.connectors.whatsapp import fake_rules as rules
from tests.support.fake_platform import FakePlatform

PNID = "109876543210"
WABA = "102290129340398"
TOKEN = "EAAG-test-access-token-123"
VERSION = "v21.0"

Reply = tuple[int, dict[str, Any], dict[str, str]]


def graph_error(code: int, status: int = 400, headers: dict[str, str] | None = None, title: str = "error") -> Reply:
    """A Graph error answer as Meta shapes it."""
    body = {
        "error": {
            "message": f"(#{code}) {title}",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": "details"},
            "fbtrace_id": "Axyz",
        }
    }
    return status, body, headers or {}


@dataclass
class FakeGraph(FakePlatform):
    """Records sends and uploads; `script[to]` queues answers for one recipient before it succeeds, and
    `refuse_upload[mime]` for uploads of one type; `corrupt` names media whose download does not match
    the sha256 the lookup gives. Sends go `to` a phone or to a `recipient` (business-scoped user id);
    `closed` recipients' 24-hour window has closed (131047 for all but templates); `templates` is the
    approved registry (fake_rules), listed in pages of at most `page_max` (`template_pages` records each
    page's query); read marks and typing indicators are recorded in `signals`."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    attempts: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    uploads: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    script: defaultdict[str, list[Reply]] = field(default_factory=lambda: defaultdict(list))
    refuse_upload: defaultdict[str, list[Reply]] = field(default_factory=lambda: defaultdict(list))
    expire_first_url: set[str] = field(default_factory=set)
    corrupt: set[str] = field(default_factory=set)
    downloads: list[tuple[str, int]] = field(default_factory=list)
    lookups: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    base: str = ""
    media_base: str | None = None
    verified_name: str = "Acme Support"
    templates: dict[tuple[str, str], rules.TemplateSpec] = field(default_factory=lambda: dict(rules.TEMPLATES))
    closed: set[str] = field(default_factory=set)
    signals: list[dict[str, Any]] = field(default_factory=list)
    template_pages: list[dict[str, str]] = field(default_factory=list)
    page_max: int = 100

    def __post_init__(self) -> None:
        FakePlatform.__init__(self)

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {TOKEN}"

    async def messages(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _reply(graph_error(190, 401))
        if request.match_info["pnid"] != PNID:
            return _reply(graph_error(100))
        body = await request.json()
        if body.get("status") == "read":
            return self._read(body)
        to = str(body.get("to") or body.get("recipient") or "")
        if not to:
            return _reply(graph_error(100, title="Invalid parameter: to or recipient is required"))
        self.attempts[to] += 1
        if self.script[to]:
            return _reply(self.script[to].pop(0))
        problem = self._refusal(body, to, "to" not in body)
        if problem is not None:
            return _reply(graph_error(problem[0], title=problem[1]))
        self.sent.append(body)
        wamid = f"wamid.OUT{len(self.sent)}"
        contact = {"input": to, "wa_id": to} if "to" in body else {"input": to, "user_id": to}
        return web.json_response({"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wamid}]})

    def _refusal(self, body: dict[str, Any], to: str, bsuid: bool) -> tuple[int, str] | None:
        kind = body.get("type")
        if kind == "template":
            return rules.template(body, bsuid, self.templates)
        if to in self.closed:
            return 131047, "Re-engagement message"
        if kind == "interactive":
            return rules.interactive(body)
        return None

    def _read(self, body: dict[str, Any]) -> web.Response:
        problem = rules.read(body)
        if problem is not None:
            return _reply(graph_error(problem[0], title=problem[1]))
        self.signals.append({"message_id": body["message_id"], "typing": "typing_indicator" in body})
        return web.json_response({"success": True})

    async def message_templates(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _reply(graph_error(190, 401))
        if request.match_info["waba"] != WABA:
            return _reply(graph_error(100, title="Unsupported get request"))
        self.template_pages.append(dict(request.query))
        found = [spec.describe(name, lang) for (name, lang), spec in self.templates.items()]
        page = rules.page(found, request.query, self.page_max)
        if page is None:
            return _reply(graph_error(100, title="Invalid parameter: limit or after"))
        if "paging" in page and "next" in page["paging"]:
            page["paging"]["next"] = f"{self.base}{request.path}?{page['paging']['next']}"
        return web.json_response(page)

    async def upload(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _reply(graph_error(190, 401))
        fields: dict[str, Any] = {}
        reader = await request.multipart()
        async for part in reader:
            data = await part.read()  # type: ignore[union-attr]
            if part.filename:  # type: ignore[union-attr]
                fields.update(file=bytes(data), filename=part.filename, content_type=part.headers.get("Content-Type"))  # type: ignore[union-attr]
            else:
                fields[part.name or ""] = data.decode()  # type: ignore[union-attr]
        if self.refuse_upload[fields["type"]]:
            return _reply(self.refuse_upload[fields["type"]].pop(0))
        self.uploads.append(fields)
        media_id = f"77{len(self.uploads):08d}"
        self.media[media_id] = (fields["type"], fields["file"])
        return web.json_response({"id": media_id})

    async def lookup(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _reply(graph_error(190, 401))
        node = request.match_info["node"]
        if node == PNID:
            return web.json_response(
                {"display_phone_number": "+1 555-000-1111", "verified_name": self.verified_name, "id": PNID}
            )
        if node not in self.media:
            return _reply(graph_error(100))
        self.lookups[node] += 1
        mime, data = self.media[node]
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "url": f"{self.media_base or self.base}/dl/{node}/{self.lookups[node]}",
                "mime_type": mime,
                "sha256": hashlib.sha256(data).hexdigest(),
                "file_size": len(data),
                "id": node,
            }
        )

    async def download(self, request: web.Request) -> web.Response:
        node, gen = request.match_info["node"], int(request.match_info["gen"])
        self.downloads.append((node, gen))
        if not self._authorised(request):
            return web.Response(status=401)
        if node in self.expire_first_url and gen == 1:
            return web.Response(status=404)
        mime, data = self.media[node]
        if node in self.corrupt:
            data = data[:-1] + bytes([data[-1] ^ 1])
        return web.Response(body=data, content_type=mime)

    def routes(self, app: web.Application) -> None:
        app.router.add_post(f"/{VERSION}/{{pnid}}/messages", self.messages)
        app.router.add_post(f"/{VERSION}/{{pnid}}/media", self.upload)
        app.router.add_get(f"/{VERSION}/{{node}}", self.lookup)
        app.router.add_get(f"/{VERSION}/{{waba}}/message_templates", self.message_templates)
        app.router.add_get("/dl/{node}/{gen}", self.download)

    def texts(self, to: str | None = None) -> list[str]:
        return [m["text"]["body"] for m in self.sent if m.get("type") == "text" and (to is None or m["to"] == to)]


def _reply(reply: Reply) -> web.Response:
    status, body, headers = reply
    return web.Response(text=json.dumps(body), status=status, headers=headers, content_type="application/json")
