"""A fake Bot API whose files can be hostile or trickle, for the /media tests; it records any script callback."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.conftest import workspace
from tests.connectors.telegram.fake_api import SECRET, FakeTelegram
from tests.connectors.telegram.helpers import SECRET_HEADER, payload, tg_config
from tests.support.crm_sink import SINK_SECRET

TG_HEADERS = {SECRET_HEADER: SECRET}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


@dataclass
class FileHost(FakeTelegram):
    """FakeTelegram plus: paths in `trickle` are served a byte at a time for a minute, `streaming` counts
    downloads still open, and GET /pwned/<what> (what a hostile file's script would call) is recorded."""

    trickle: set[str] = field(default_factory=set)
    streaming: int = 0
    pwned: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_get("/pwned/{what}", self.mark)
        return app

    async def mark(self, request: web.Request) -> web.Response:
        self.pwned.append(request.match_info["what"])
        return web.Response(text="", headers={"Access-Control-Allow-Origin": "*"})

    async def download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["path"] not in self.trickle:
            return await super().download(request)
        self.downloads += 1
        self.streaming += 1
        try:
            resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
            await resp.prepare(request)
            await resp.write(b"\0" * 32)
            for _ in range(600):
                await asyncio.sleep(0.1)
                await resp.write(b"\0")
            return resp
        finally:
            self.streaming -= 1


def document(update_id: int, file_id: str, name: str, mime: str) -> dict[str, Any]:
    """A Telegram update carrying one document."""
    base = payload("document")
    message = copy.deepcopy(base["message"])
    message["message_id"] = update_id % 100_000
    message["document"] = {"file_name": name, "mime_type": mime, "file_id": file_id, "file_unique_id": f"u{file_id}"}
    return {"update_id": update_id, "message": message}


def files_to_crm(api: str, crm_url: str, **extra: Any) -> dict[str, Any]:
    """Workspace: telegram (at the fake `api`) and webchat -> webhook CRM at crm_url."""
    return workspace(
        {
            "tg": tg_config(api),
            "webchat": {"type": "webchat"},
            "crm": {"type": "webhook", "url": crm_url, "secret": SINK_SECRET, "ack_deadline": 3.0},
        },
        [{"from": ["tg", "webchat"], "to": "crm"}],
        **extra,
    )
