"""/readyz says whether this replica can deliver now: a state store that is down or hung makes it 503
with the reason, found by a ping with a short timeout whose answer is kept for about a second."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis.asyncio as aioredis

from relay.state import MemoryStateStore
from tests.conftest import RelayFactory, sandbox_workspace
from tests.state.conftest import RedisServer


async def _readyz(client: Any) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    resp = await client.get("/readyz")
    return resp.status, await resp.json(), time.monotonic() - started


async def _until_status(client: Any, status: int) -> tuple[dict[str, Any], float]:
    for _ in range(100):
        got, body, took = await _readyz(client)
        if got == status:
            return body, took
        await asyncio.sleep(0.1)
    raise AssertionError(f"/readyz never answered {status}")


async def test_readyz_follows_the_state_store(redis_server: RedisServer, start_relay: RelayFactory) -> None:
    url = redis_server("--save", "", "--appendonly", "no")
    raw = sandbox_workspace()
    raw["state"] = {"backend": "redis", "url": url}
    client, _ = await start_relay(raw)
    status, body, _ = await _readyz(client)
    assert status == 200 and body["state_store_reachable"] is True
    admin = aioredis.Redis.from_url(url)
    try:
        await admin.execute_command("CLIENT", "PAUSE", "3000", "ALL")
        body, took = await _until_status(client, 503)
        assert body["state_store_reachable"] is False and body["reason"] == "state store unreachable (TimeoutError)"
        assert took < 1.5, "a hung store must not hold /readyz"
        await admin.execute_command("CLIENT", "UNPAUSE")
        await _until_status(client, 200)
        await admin.shutdown(nosave=True)
    except Exception:
        await admin.aclose()
        raise
    body, _ = await _until_status(client, 503)
    assert body["reason"].startswith("state store unreachable (") and "127.0.0.1" not in body["reason"]
    await admin.aclose()


async def test_the_answer_is_cached_for_a_second() -> None:
    from relay.readiness import StateProbe

    pings: list[float] = []

    class Store(MemoryStateStore):
        async def ping(self) -> None:
            pings.append(time.monotonic())

    probe = StateProbe(Store(), ttl=0.3)
    assert await asyncio.gather(*(probe.problem() for _ in range(50))) == [None] * 50
    assert len(pings) == 1
    await asyncio.sleep(0.35)
    assert await probe.problem() is None and len(pings) == 2
