"""Three replicas with a Telegram bot in long-polling mode: one replica polls (a Redis lease), CRM answers
posted to any replica reach Telegram once, and when the polling replica dies another takes over."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from relay.http import sign
from tests.connectors.telegram.fake_api import TOKEN, FakeTelegram
from tests.scale.cluster import WORKSPACE_KEY, Cluster
from tests.state.conftest import REDIS_URL
from tests.support.crm_sink import SINK_SECRET, CrmSink

pytestmark = pytest.mark.slow

K = 12


class Watch:
    """Which replica called which Bot API method (each replica has its own base path /r<i>/)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str]] = []
        self.polling: Counter[int] = Counter()
        self.max_concurrent_polls = 0

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        parts = request.path.split("/")
        replica, method = int(parts[1][1:]), parts[-1]
        self.calls.append((replica, method))
        if method != "getUpdates":
            return await handler(request)
        self.polling[replica] += 1
        self.max_concurrent_polls = max(self.max_concurrent_polls, sum(1 for n in self.polling.values() if n))
        try:
            return await handler(request)
        finally:
            self.polling[replica] -= 1

    def pollers(self, since: int = 0) -> set[int]:
        return {r for r, m in self.calls[since:] if m == "getUpdates"}

    def senders(self) -> set[int]:
        return {r for r, m in self.calls if m == "sendMessage"}


def update(n: int) -> dict[str, Any]:
    chat = 7001 + n % 3
    person = {"id": chat, "is_bot": False, "first_name": "Ana"}
    message = {"message_id": 500 + n, "from": person, "chat": {**person, "type": "private"}, "text": f"hi {n}"}
    return {"update_id": 90_000 + n, "message": {**message, "date": 1736935242}}


def replica_config(workspace_id: str, api: str, crm_url: str) -> dict[str, Any]:
    return {
        "workspace": {"id": workspace_id, "keys": [{"id": "k1", "secret": WORKSPACE_KEY}]},
        "state": {"backend": "redis", "url": REDIS_URL},
        "server": {"shutdown_grace": 2.0},
        "logging": {"level": "info", "format": "json"},
        "connectors": {
            "tg": {
                "type": "telegram",
                "token": TOKEN,
                "mode": "polling",
                "api_base_url": f"{api}/bot",
                "poll_timeout": 1,
                "timeout": 1.0,
                "poll_retry_pause": 0.1,
            },
            "crm": {"type": "webhook", "url": crm_url, "secret": SINK_SECRET},
        },
        "routes": [{"from": ["tg"], "to": "crm"}],
    }


async def until(check: Callable[[], bool], timeout: float, what: str, cluster: Cluster) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not check():
        cluster.check_alive()
        if asyncio.get_running_loop().time() > end:
            raise AssertionError(f"timed out waiting for {what}\n{cluster.logs()}")
        await asyncio.sleep(0.05)


async def test_polling_on_one_replica_answers_from_any(
    cluster: Cluster, workspace_id: str, aiohttp_server: Any
) -> None:
    fake, watch, sink = FakeTelegram(), Watch(), CrmSink()
    root = web.Application(middlewares=[watch.middleware])
    for i in range(3):
        root.add_subapp(f"/r{i}", fake.app())
    api = str((await aiohttp_server(root)).make_url("/")).rstrip("/")
    crm_url = str((await aiohttp_server(sink.app())).make_url("/crm"))
    cluster.start_replicas([replica_config(workspace_id, f"{api}/r{i}", crm_url) for i in range(3)])
    cluster.start_nginx()
    await cluster.wait_ready()

    for n in range(K):
        fake.push(update(n))
    await until(lambda: len(sink.messages()) >= K, 15, "the first updates", cluster)
    assert len(watch.pollers()) == 1, "only the lease holder polls"
    holder = watch.pollers().pop()

    async with aiohttp.ClientSession() as session:

        async def answer(body: dict[str, Any], target: str) -> int:
            raw = json.dumps(body).encode()
            headers = {"X-Relay-Signature": sign(SINK_SECRET.encode(), raw), "Content-Type": "application/json"}
            async with session.post(f"{target}/hooks/crm", data=raw, headers=headers) as resp:
                return resp.status

        answers = [
            {"conversation": m["conversation"], "id": f"a{j}", "text": f"answer {j}"}
            for j, m in enumerate(sink.messages())
        ]
        direct = await asyncio.gather(*(answer(a, cluster.url(j % 3)) for j, a in enumerate(answers)))
        again = await asyncio.gather(*(answer(a, cluster.url()) for a in answers))
    statuses = direct + again
    assert statuses == [200] * (2 * K)
    texts = Counter(s["text"] for s in fake.sent if s["method"] == "sendMessage")
    assert texts == Counter(f"answer {j}" for j in range(K)), "each answer reached Telegram once"
    assert watch.senders() == {0, 1, 2}, "every replica sends answers, not only the poller"

    mark = len(watch.calls)
    cluster.kill(holder)
    for n in range(K, 2 * K):
        fake.push(update(n))
    await until(lambda: len(sink.messages()) >= 2 * K, 25, "a new poller after the holder died", cluster)
    new = watch.pollers(mark) - {holder}
    assert len(new) == 1, f"one survivor took the lease over: {new}"
    assert watch.max_concurrent_polls == 1, "never two pollers at once"
    ids = Counter(m["message"]["text"] for m in sink.messages())
    assert ids == Counter(f"hi {n}" for n in range(2 * K)), "every update reached the CRM exactly once"
