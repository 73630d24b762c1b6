"""A local stand-in for Kannel's smsbox HTTP interface: sendsms as Kannel answers it (202 "0: Accepted for
delivery", 403 "Authorization failed for sendsms", 400 for a missing receiver), and delivery reports posted
to the dlr-url with its escapes filled in, as bearerbox does for a fake SMSC (8 then 1)."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from tests.support.background import Background
from tests.support.fake_platform import FakePlatform

USERNAME = "relay"
PASSWORD = "kannel-test-password-0123"


class FakeKannel(FakePlatform):
    """Records every accepted sendsms as its query; `reports` (default 8, 1) go to each dlr-url."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, str]] = []
        self.reports = (8, 1)
        self.reach: dict[str, str] = {}
        self.background = Background()

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/cgi-bin/sendsms", self.sendsms)
        app.on_cleanup.append(self._cleanup)

    async def _cleanup(self, app: web.Application) -> None:
        await self.background.close()

    async def sendsms(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("username") != USERNAME or q.get("password") != PASSWORD:
            return web.Response(status=403, text="Authorization failed for sendsms", content_type="text/html")
        if not q.get("to"):
            return web.Response(status=400, text="Missing receiver number", content_type="text/html")
        self.sent.append(dict(q))
        if q.get("dlr-url") and int(q.get("dlr-mask", "0") or 0):
            self.background.spawn(self._report(q["dlr-url"], q["to"], q.get("from", "")))
        return web.Response(status=202, text="0: Accepted for delivery", content_type="text/html")

    async def _report(self, template: str, to: str, sender: str) -> None:
        for reports_type in self.reports:
            url = template.replace("%d", str(reports_type)).replace("%p", to.replace("+", "%2B"))
            url = url.replace("%P", sender.replace("+", "%2B"))
            for public, real in self.reach.items():
                url = url.replace(public, real, 1)
            try:
                async with self.background.session().get(url) as resp:
                    await resp.read()
            except aiohttp.ClientError:
                return
