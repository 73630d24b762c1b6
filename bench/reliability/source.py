"""Sources that redeliver like real platforms: every request not answered 2xx is posted again, elsewhere."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence

import aiohttp

from bench.reliability.fakes import BOT_SECRET
from relay.http import sign

Request = tuple[str, bytes, dict[str, str]]


class Redeliverer:
    """Posts each request until a 2xx or `give_up` seconds, spreading attempts over `urls` (a load balancer
    that fails over) with `pause` seconds between attempts."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        urls: Sequence[str],
        pause: float = 0.3,
        give_up: float = 60.0,
        timeout: float = 10.0,
        concurrency: int = 16,
    ) -> None:
        self.session = session
        self.urls = list(urls)
        self.pause = pause
        self.give_up = give_up
        self.timeout = timeout
        self.gate = asyncio.Semaphore(concurrency)
        self.sent = 0
        self.attempts = 0
        self.errors = 0
        self.gave_up = 0
        self.answers: Counter[str] = Counter()
        self._rr = itertools.count(random.randrange(1000))

    @property
    def redeliveries(self) -> int:
        return self.attempts - self.sent

    async def post(self, make: Callable[[], Request]) -> bool:
        """Deliver one request; True once a replica answered 2xx."""
        self.sent += 1
        async with self.gate:
            start = time.monotonic()
            while time.monotonic() - start < self.give_up:
                base = self.urls[next(self._rr) % len(self.urls)]
                path, body, headers = make()
                self.attempts += 1
                try:
                    timeout = aiohttp.ClientTimeout(total=self.timeout)
                    async with self.session.post(base + path, data=body, headers=headers, timeout=timeout) as resp:
                        answer = await resp.read()
                        if 200 <= resp.status < 300:
                            self.answers[_status(answer)] += 1
                            return True
                        self.answers[f"http_{resp.status}"] += 1
                except (aiohttp.ClientError, TimeoutError):
                    self.errors += 1
                    self.answers["no_answer"] += 1
                await asyncio.sleep(self.pause)
            self.gave_up += 1
            return False


def _status(answer: bytes) -> str:
    try:
        data = json.loads(answer)
    except ValueError:
        return "ok"
    return str(data.get("status", "ok")) if isinstance(data, dict) else "ok"


def telegram_update(update_id: int, chat: int, text: str) -> Callable[[], Request]:
    """A Telegram webhook delivery of one private-chat text message, with the secret-token header."""
    update = {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": {"id": chat, "is_bot": False, "first_name": "Customer"},
            "chat": {"id": chat, "first_name": "Customer", "type": "private"},
            "date": int(time.time()),
            "text": text,
        },
    }
    body = json.dumps(update).encode()
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": BOT_SECRET}
    return lambda: ("/hooks/tg/", body, headers)


def crm_answer(secret: str, conversation: str, answer_id: str, text: str) -> Callable[[], Request]:
    """A CRM webhook answer, signed afresh on every attempt."""
    body = json.dumps({"conversation": conversation, "id": answer_id, "text": text}).encode()

    def make() -> Request:
        headers = {"Content-Type": "application/json", "X-Relay-Signature": sign(secret.encode(), body)}
        return "/hooks/crm", body, headers

    return make
