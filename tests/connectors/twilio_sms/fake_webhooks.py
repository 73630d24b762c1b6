"""How the Twilio fake posts to the relay: a customer's text as Twilio's signed webhook (with the keywords
Twilio handles itself on long codes), one retry within 15 s, then the fallback URL, then error 11200; status
callbacks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlencode

import aiohttp

from tests.connectors.twilio_sms.fake_account import ACCOUNT, API, NUMBER, TOKEN, Logged, new_sid

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
START_WORDS = {"START", "YES", "UNSTOP"}
HELP_WORDS = {"HELP", "INFO"}


def twilio_signature(token: str, url: str, params: Sequence[tuple[str, str]]) -> str:
    """What Twilio puts in X-Twilio-Signature: HMAC-SHA1 over the URL and the sorted name+value pairs."""
    joined = url + "".join(k + v for k, v in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), joined.encode(), hashlib.sha1).digest()).decode()


class WebhookSender:
    """Mixed into FakeTwilio, whose message log, opt-outs and webhook settings these methods share."""

    clock: Callable[[], float]
    log: list[Logged]
    optouts: set[str]
    errors: list[tuple[str, int]]
    attempts: dict[str, int]
    sms_url: str
    fallback_url: str
    retry_pause: float
    give_up: float
    final_status: str
    final_error: str
    reorder: bool

    @property
    def session(self) -> aiohttp.ClientSession:
        raise NotImplementedError

    def _real(self, url: str) -> str:
        raise NotImplementedError

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

    async def text(self, sender: str, body: str, media: Sequence[tuple[bytes, str]] = (), to: str = NUMBER) -> str:
        """A customer texts the business: logged, Twilio's own keywords applied, then the webhook posted as
        Twilio posts it. Returns the MessageSid."""
        files = [(new_sid("ME"), data, mime) for data, mime in media]
        sid = new_sid("MM" if files else "SM")
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
