"""Three relay processes behind nginx, sharing Redis: each message reaches the CRM once, even with
redeliveries landing on different replicas and a replica killed with SIGKILL half-way."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any

import aiohttp
import pytest

from relay.state_redis import RedisStateStore
from tests.scale.cluster import WORKSPACE_KEY, Cluster
from tests.state.conftest import REDIS_URL
from tests.support.crm_sink import SINK_SECRET, CrmSink

pytestmark = pytest.mark.slow

N = 40


def webchat_workspace(workspace_id: str, crm_url: str, public_url: str) -> dict[str, Any]:
    return {
        "workspace": {"id": workspace_id, "keys": [{"id": "k1", "secret": WORKSPACE_KEY}]},
        "state": {"backend": "redis", "url": REDIS_URL},
        "server": {"public_url": public_url, "shutdown_grace": 2.0},
        "logging": {"level": "info", "format": "json"},
        "connectors": {
            "webchat": {"type": "webchat", "ack_deadline": 5.0},
            "crm": {"type": "webhook", "url": crm_url, "secret": SINK_SECRET, "ack_deadline": 5.0},
        },
        "routes": [{"from": ["webchat"], "to": "crm"}],
    }


class Visitor:
    """A webchat client that redelivers until the relay acknowledges, as a platform would."""

    def __init__(self, session: aiohttp.ClientSession, token: str) -> None:
        self.session = session
        self.headers = {"X-Webchat-Token": token}
        self.answers: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()

    async def send(self, base: str, msg_id: str, text: str) -> str:
        """POST until acknowledged; returns the relay's final status (delivered or duplicate)."""
        for _ in range(100):
            try:
                async with self.session.post(
                    f"{base}/hooks/webchat/api/messages", json={"id": msg_id, "text": text}, headers=self.headers
                ) as resp:
                    if resp.status == 200:
                        status: str = (await resp.json())["status"]
                        self.answers[status] += 1
                        return status
                    self.failures[f"http_{resp.status}"] += 1
            except aiohttp.ClientError as exc:
                self.failures[type(exc).__name__] += 1
            await asyncio.sleep(0.1)
        raise AssertionError(f"{msg_id} never acknowledged")


async def counts(session: aiohttp.ClientSession, base: str) -> tuple[float, float]:
    """(messages this replica delivered, redeliveries it recognised) from its /metrics."""
    async with session.get(f"{base}/metrics") as resp:
        text = await resp.text()

    def total(pattern: str) -> float:
        return sum(float(m) for m in re.findall(pattern, text, re.MULTILINE))

    delivered = total(r'^relay_messages_total\{[^}]*connector="webchat"[^}]*outcome="delivered"[^}]*\} (\S+)$')
    return delivered, total(r'^relay_dedup_hits_total\{[^}]*connector="webchat"[^}]*\} (\S+)$')


async def test_three_replicas_deliver_each_message_once(
    cluster: Cluster, workspace_id: str, aiohttp_server: Any
) -> None:
    sink = CrmSink()
    server = await aiohttp_server(sink.app())
    cluster.start_replicas([webchat_workspace(workspace_id, str(server.make_url("/crm")), "http://127.0.0.1")] * 3)
    cluster.start_nginx()
    await cluster.wait_ready()
    lb = cluster.url()

    async with aiohttp.ClientSession() as session:
        async with session.post(f"{lb}/hooks/webchat/api/session") as resp:
            visitor = Visitor(session, (await resp.json())["token"])

        async def redelivered(i: int, targets: list[str]) -> None:
            statuses = await asyncio.gather(*(visitor.send(t, f"m{i}", f"hello {i}") for t in targets))
            assert statuses.count("delivered") <= 1, statuses

        async def phase(ids: range, alive: list[int]) -> None:
            jobs = []
            for i in ids:
                if i % 4 == 0:
                    jobs.append(redelivered(i, [cluster.url(r) for r in alive]))
                else:
                    jobs.append(redelivered(i, [lb, lb, lb]))
            await asyncio.gather(*jobs)

        await phase(range(N // 2), [0, 1, 2])
        before = [await counts(session, cluster.url(r)) for r in (0, 1, 2)]
        assert all(sum(c) > 0 for c in before), "every replica took a share"
        cluster.kill(1)
        await phase(range(N // 2, N), [0, 2])
        after = [await counts(session, cluster.url(r)) for r in (0, 2)]
        cluster.check_alive()

    ids = Counter(body["message"]["id"].split(":")[1] for body in sink.messages())
    assert set(ids) == {f"m{i}" for i in range(N)}, "every message reached the CRM"
    assert [k for k, n in ids.items() if n > 1] == [], "no message reached the CRM twice"
    assert sink.bad_signatures == 0
    assert sum(c[0] for c in before) == N // 2
    assert sum(c[0] for c in after) - before[0][0] - before[2][0] == N // 2, "the survivors carried the second half"
    assert sum(after[0]) > sum(before[0]) and sum(after[1]) > sum(before[2]), "both survivors took traffic"
    assert "Connection refused" in cluster.nginx_log(), "nginx met the dead replica and passed the request on"
    copies = sum(2 if i % 4 == 0 and i >= N // 2 else 3 for i in range(N))
    assert visitor.answers == {"delivered": N, "duplicate": copies - N}, visitor.failures


async def test_polling_lease_one_holder_then_takeover(shared_redis: str, workspace_id: str) -> None:
    """The Telegram poller's lease (ctx.state.lease): one of two replicas polls; the other takes over
    once the holder stops renewing (it died) and the lease expires."""
    prefix = f"relay:{workspace_id}:"
    one = await RedisStateStore.connect(shared_redis, prefix=prefix)
    two = await RedisStateStore.connect(shared_redis, prefix=prefix)
    try:
        first = await asyncio.gather(one.lease("poll:tg", "replica-1", 0.5), two.lease("poll:tg", "replica-2", 0.5))
        assert sorted(first) == [False, True]
        holder, other = (one, two) if first[0] else (two, one)
        names = ("replica-1", "replica-2") if first[0] else ("replica-2", "replica-1")
        for _ in range(3):
            await asyncio.sleep(0.2)
            assert await holder.lease("poll:tg", names[0], 0.5), "the holder renews"
            assert not await other.lease("poll:tg", names[1], 0.5)
        await asyncio.sleep(0.6)
        assert await other.lease("poll:tg", names[1], 0.5), "the other replica takes over after expiry"
        assert not await holder.lease("poll:tg", names[0], 0.5), "a late holder does not get it back"
    finally:
        await one.close()
        await two.close()
