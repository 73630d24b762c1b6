"""A faithful local Twilio for SMS/MMS (and Voice status callbacks): the Messages API with its documented
errors (21610 after STOP, 20429 over the concurrency limit, 21211, 21617), its message log and media, signed
webhooks posted the way Twilio posts them (one retry within 15 s, then the fallback URL, then error 11200),
status callbacks, and the keywords Twilio itself handles on long codes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from tests.support.fake_platform import FakePlatform

ACCOUNT = "AC" + "a1" * 16
TOKEN = "fake-twilio-auth-token-0123456789"
NUMBER = "+15550001111"
API = f"/2010-04-01/Accounts/{ACCOUNT}"
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
START_WORDS = {"START", "YES", "UNSTOP"}
HELP_WORDS = {"HELP", "INFO"}


def twilio_signature(token: str, url: str, params: Sequence[tuple[str, str]]) -> str:
    """What Twilio puts in X-Twilio-Signature: HMAC-SHA1 over the URL and the sorted name+value pairs."""
    joined = url + "".join(k + v for k, v in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), joined.encode(), hashlib.sha1).digest()).decode()


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass
class Logged:
    """One entry of Twilio's message log."""

    sid: str
    sender: str
    to: str
    body: str
    direction: str
    status: str
    at: float
    media: list[tuple[str, bytes, str]] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "account_sid": ACCOUNT,
            "from": self.sender,
            "to": self.to,
            "body": self.body,
            "num_media": str(len(self.media)),
            "num_segments": "1",
            "direction": self.direction,
            "status": self.status,
            "date_sent": format_datetime(datetime.fromtimestamp(self.at, UTC), usegmt=True),
            "uri": f"{API}/Messages/{self.sid}.json",
            "subresource_uris": {"media": f"{API}/Messages/{self.sid}/Media.json"},
        }


class FakeTwilio(FakePlatform):
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
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
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
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

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
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.give_up))
        return self._session

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- the Messages API
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
                media.append((_sid("ME"), data, resp.content_type))
                self.fetched.append((str(url), data))
        sid = _sid("MM" if media else "SM")
        sender = fields.get("From") or fields.get("MessagingServiceSid", "")
        self.log.append(Logged(sid, sender, to, body, "outbound-api", "queued", self.clock(), media))
        self.sends.append((time.monotonic(), {**fields, "sid": sid, "media": str(len(media))}))
        callback = fields.get("StatusCallback")
        if callback:
            self._spawn(self._statuses(sid, to, callback))
        return web.json_response({"sid": sid, "status": "queued", "to": to, "num_media": str(len(media))}, status=201)

    async def _statuses(self, sid: str, to: str, url: str) -> None:
        states = ["sent", self.final_status]
        if self.reorder:
            states.reverse()
        for state in states:
            params = [("MessageSid", sid), ("SmsSid", sid), ("AccountSid", ACCOUNT), ("To", to)]
            params += [("MessageStatus", state), ("SmsStatus", state), ("ApiVersion", "2010-04-01")]
            if state in ("undelivered", "failed") and self.final_error:
                params.append(("ErrorCode", self.final_error))
            await self.post(url, params)

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

    # ---- a customer, and the webhooks Twilio posts
    async def text(self, sender: str, body: str, media: Sequence[tuple[bytes, str]] = (), to: str = NUMBER) -> str:
        """A customer texts the business: logged, Twilio's own keywords applied, then the webhook posted as
        Twilio posts it. Returns the MessageSid."""
        files = [(_sid("ME"), data, mime) for data, mime in media]
        sid = _sid("MM" if files else "SM")
        self.log.append(Logged(sid, sender, to, body, "inbound", "received", self.clock(), files))
        word = body.strip().upper()
        params = [("MessageSid", sid), ("SmsSid", sid), ("SmsMessageSid", sid), ("AccountSid", ACCOUNT)]
        params += [("From", sender), ("To", to), ("Body", body), ("NumMedia", str(len(files)))]
        params += [("NumSegments", "1"), ("SmsStatus", "received"), ("ApiVersion", "2010-04-01")]
        params += [("FromCountry", "DE"), ("ToCountry", "US"), ("FromCity", "BERLIN")]
        for i, (me, _, mime) in enumerate(files):
            params += [(f"MediaUrl{i}", f"https://api.twilio.com{API}/Messages/{sid}/Media/{me}")]
            params += [(f"MediaContentType{i}", mime)]
        if word in STOP_WORDS:
            self.optouts.add(sender)
            params.append(("OptOutType", "STOP"))
        elif word in START_WORDS:
            self.optouts.discard(sender)
            params.append(("OptOutType", "START"))
        elif word in HELP_WORDS:
            params.append(("OptOutType", "HELP"))
        await self.deliver_webhook(sid, self.sms_url, params)
        return sid

    async def deliver_webhook(self, sid: str, url: str, params: Sequence[tuple[str, str]]) -> bool:
        """One attempt and one retry within `give_up` seconds, then the fallback URL, then error 11200."""
        started = time.monotonic()
        for attempt in range(2):
            if attempt:
                await asyncio.sleep(self.retry_pause)
            if time.monotonic() - started > self.give_up:
                break
            if await self.post(url, params, sid):
                return True
        if self.fallback_url and await self.post(self.fallback_url, params, sid):
            return True
        self.errors.append((sid, 11200))
        return False

    async def post(self, url: str, params: Sequence[tuple[str, str]], sid: str = "") -> bool:
        """POST a signed form; True on 2xx."""
        self.attempts[sid] = self.attempts.get(sid, 0) + 1
        headers = {"X-Twilio-Signature": twilio_signature(TOKEN, url, params), "I-Twilio-Idempotency-Token": sid}
        try:
            async with self.session.post(
                self._real(url),
                data=urlencode(list(params)),
                headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
            ) as resp:
                await resp.read()
                return 200 <= resp.status < 300
        except (aiohttp.ClientError, TimeoutError):
            return False

    def sent_to(self, number: str) -> list[dict[str, str]]:
        return [form for _, form in self.sends if form.get("To") == number]
