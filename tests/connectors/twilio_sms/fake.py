"""A faithful local Twilio for SMS/MMS (and Voice status callbacks): the Messages API with its documented
errors (21610 after STOP, 20429 over the concurrency limit, 21211, 21617), its message log and media. The
signed webhooks, status callbacks and long-code keywords are in fake_webhooks; the account in fake_account."""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from tests.connectors.twilio_sms.fake_account import ACCOUNT, API, NUMBER, TOKEN, Logged, new_sid
from tests.connectors.twilio_sms.fake_webhooks import WebhookSender
from tests.support.background import Background
from tests.support.fake_platform import FakePlatform


class FakeTwilio(FakePlatform, WebhookSender):
    """Twilio's Messages API and webhooks. `reach` maps a public base URL (as configured at Twilio) to the
    address it really answers on, like a TLS-terminating proxy; webhooks are signed over the public URL."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.clock = clock
        self.log: list[Logged] = []
        self.optouts: set[str] = set()
        self.sends: list[tuple[float, dict[str, str]]] = []
        self.fetched: list[tuple[str, bytes]] = []
        self.errors: list[tuple[str, int]] = []
        self.attempts: dict[str, int] = {}
        self.reach: dict[str, str] = {}
        self.sms_url = ""
        self.fallback_url = ""
        self.retry_pause = 1.0
        self.give_up = 15.0
        self.max_concurrent = 100
        self.final_status = "delivered"
        self.final_error = ""
        self.reorder = False
        self.active = 0
        self.recordings: dict[str, bytes] = {}
        self.background = Background()
        self._counter = itertools.count(1)

    def routes(self, app: web.Application) -> None:
        app.router.add_post(f"{API}/Messages.json", self.create)
        app.router.add_get(f"{API}/Messages.json", self.listing)
        app.router.add_get(f"{API}/Messages/{{sid}}/Media.json", self.media_list)
        app.router.add_get(f"{API}/Messages/{{sid}}/Media/{{media}}", self.media)
        app.router.add_get("/cdn/{media}", self.cdn)
        app.router.add_get(f"{API}/Recordings/{{sid}}.mp3", self.recording)
        app.router.add_get(f"{API}.json", self.account)
        app.router.add_get(f"{API}/IncomingPhoneNumbers.json", self.numbers)
        app.on_cleanup.append(self._cleanup)

    async def _cleanup(self, app: web.Application) -> None:
        await self.close()

    async def close(self) -> None:
        await self.background.close()

    def _authorized(self, request: web.Request) -> bool:
        expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
        return request.headers.get("Authorization") == expected

    @staticmethod
    def _error(code: int, status: int = 400, **headers: str) -> web.Response:
        body = {"code": code, "message": f"error {code}", "more_info": f"https://www.twilio.com/docs/errors/{code}"}
        return web.json_response({**body, "status": status}, status=status, headers=headers)

    def _real(self, url: str) -> str:
        for public, real in self.reach.items():
            if url.startswith(public):
                return real + url[len(public) :]
        return url

    @property
    def session(self) -> aiohttp.ClientSession:
        return self.background.session(aiohttp.ClientTimeout(total=self.give_up))

    async def create(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(20003, 401)
        self.active += 1
        try:
            if self.active > self.max_concurrent:
                return self._error(20429, 429, **{"Retry-After": "1"})
            return await self._create(request)
        finally:
            self.active -= 1

    async def _create(self, request: web.Request) -> web.Response:
        form = await request.post()
        fields = {k: str(v) for k, v in form.items() if k != "MediaUrl"}
        to, body = fields.get("To", ""), fields.get("Body", "")
        if not to.startswith("+") or not to[1:].isdigit():
            return self._error(21211)
        if to in self.optouts:
            return self._error(21610)
        if len(body) > 1600:
            return self._error(21617)
        media = []
        for url in form.getall("MediaUrl", []):
            async with self.session.get(self._real(str(url))) as resp:
                data = await resp.read()
                if resp.status != 200:
                    return self._error(12300)
                media.append((new_sid("ME"), data, resp.content_type))
                self.fetched.append((str(url), data))
        sid = new_sid("MM" if media else "SM")
        sender = fields.get("From") or fields.get("MessagingServiceSid", "")
        self.log.append(Logged(sid, sender, to, body, "outbound-api", "queued", self.clock(), media))
        self.sends.append((time.monotonic(), {**fields, "sid": sid, "media": str(len(media))}))
        callback = fields.get("StatusCallback")
        if callback:
            self.background.spawn(self._statuses(sid, to, callback))
        return web.json_response({"sid": sid, "status": "queued", "to": to, "num_media": str(len(media))}, status=201)

    def _page(self, request: web.Request) -> tuple[list[Logged], int, int]:
        to, since = request.query.get("To"), request.query.get("DateSent>")
        floor = datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() if since else 0.0
        found = [m for m in self.log if (to is None or m.to == to) and m.at >= floor]
        found.sort(key=lambda m: m.at, reverse=True)
        return found, int(request.query.get("PageSize", "50")), int(request.query.get("Page", "0"))

    async def listing(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(20003, 401)
        found, size, number = self._page(request)
        chunk = found[number * size : (number + 1) * size]
        query = {k: v for k, v in request.query.items() if k != "Page"}
        nxt = None
        if (number + 1) * size < len(found):
            nxt = f"{API}/Messages.json?{urlencode({**query, 'Page': str(number + 1)})}"
        return web.json_response(
            {"messages": [m.json() for m in chunk], "next_page_uri": nxt, "page": number, "page_size": size}
        )

    def _message(self, sid: str) -> Logged | None:
        return next((m for m in self.log if m.sid == sid), None)

    async def media_list(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(20003, 401)
        sid = request.match_info["sid"]
        found = self._message(sid)
        items = [
            {"sid": me, "content_type": mime, "uri": f"{API}/Messages/{sid}/Media/{me}.json"}
            for me, _, mime in (found.media if found else [])
        ]
        return web.json_response({"media_list": items})

    async def media(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(20003, 401)
        found = self._message(request.match_info["sid"])
        if found is None or not any(me == request.match_info["media"] for me, _, _ in found.media):
            return self._error(20404, 404)
        raise web.HTTPTemporaryRedirect(f"/cdn/{request.match_info['media']}")

    async def cdn(self, request: web.Request) -> web.Response:
        for item in self.log:
            for me, data, mime in item.media:
                if me == request.match_info["media"]:
                    return web.Response(body=data, content_type=mime)
        return web.Response(status=404)

    async def recording(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(20003, 401)
        found = self.recordings.get(request.match_info["sid"])
        return web.Response(body=found, content_type="audio/mpeg") if found else self._error(20404, 404)

    async def account(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(20003, 401)
        return web.json_response({"sid": ACCOUNT, "status": "active"})

    async def numbers(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(20003, 401)
        rows = [{"phone_number": NUMBER, "sms_url": self.sms_url, "sms_method": "POST"}]
        return web.json_response({"incoming_phone_numbers": rows})

    def sent_to(self, number: str) -> list[dict[str, str]]:
        return [form for _, form in self.sends if form.get("To") == number]
