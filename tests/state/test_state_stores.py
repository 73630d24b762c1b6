"""The StateStore contract, run over the memory, Redis and Redis Cluster stores (two handles = two replicas)."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from relay.connector import Outcome, Result
from relay.dedup import Dedup
from relay.reasons import Reason
from relay.state import StateStore
from relay.state_cluster import ClusterStateStore
from relay.state_redis import RedisStateStore
from tests.state.conftest import REDIS_URL

Pair = tuple[StateStore, StateStore]


async def test_claim_is_exclusive(stores: Pair) -> None:
    a, b = stores
    wins = await asyncio.gather(*(s.claim("k", f"v{i}", 30) for i, s in enumerate([a, b] * 10)))
    assert wins.count(True) == 1
    assert await b.get("k") == f"v{wins.index(True)}"
    assert not await a.claim("k", "again", 30)


async def test_set_get_delete(stores: Pair) -> None:
    a, b = stores
    assert await b.get("missing") is None
    await a.set("k", "one", 30)
    assert await b.get("k") == "one"
    await b.set("k", "two", 30)
    assert await a.get("k") == "two"
    await a.delete("k")
    assert await b.get("k") is None
    assert await b.claim("k", "three", 30)


async def test_set_many_writes_each_entry_with_its_own_ttl(stores: Pair) -> None:
    a, b = stores
    await a.set_many([("short", "one", 0.2), ("long", "two", 30)])
    assert (await b.get("short"), await b.get("long")) == ("one", "two")
    await asyncio.sleep(0.35)
    assert (await b.get("short"), await b.get("long")) == (None, "two")
    await a.set_many([])


async def test_entries_expire(stores: Pair) -> None:
    a, b = stores
    assert await a.claim("claimed", "x", 0.2)
    await a.set("plain", "y", 0.2)
    assert await b.get("claimed") == "x"
    await asyncio.sleep(0.35)
    assert await b.get("claimed") is None
    assert await b.get("plain") is None
    assert await b.claim("claimed", "z", 30)


async def test_reserve_allows_burst_then_spaces(stores: Pair) -> None:
    a, b = stores
    waits = [await s.reserve("bucket", 1.0, 3) for s in (a, b, a, b, a)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 0.8 < waits[3] <= 1.0
    assert 1.8 < waits[4] <= 2.0


async def test_reserve_refills_over_time(stores: Pair) -> None:
    a, b = stores
    assert await a.reserve("bucket", 0.1, 1) == 0.0
    assert await b.reserve("bucket", 0.1, 1) > 0.0
    await asyncio.sleep(0.25)
    assert await a.reserve("bucket", 0.1, 1) == 0.0


async def test_buckets_are_independent(stores: Pair) -> None:
    a, b = stores
    assert await a.reserve("one", 10.0, 1) == 0.0
    assert await b.reserve("two", 10.0, 1) == 0.0
    assert await b.reserve("one", 10.0, 1) > 9.0


async def test_block_holds_the_bucket_closed(stores: Pair) -> None:
    a, b = stores
    await a.block("bucket", 1.0)
    await a.block("bucket", 0.1)
    wait = await b.reserve("bucket", 0.01, 10)
    assert 0.8 < wait <= 1.0
    assert await a.reserve("bucket", 0.01, 10) > 0.8


async def test_block_expires(stores: Pair) -> None:
    a, b = stores
    await a.block("bucket", 0.2)
    await asyncio.sleep(0.3)
    assert await b.reserve("bucket", 0.01, 10) == 0.0


async def test_lease_exclusive_renewable_and_taken_over_after_expiry(stores: Pair) -> None:
    a, b = stores
    assert await a.lease("poll", "replica-a", 0.3)
    assert not await b.lease("poll", "replica-b", 0.3)
    await asyncio.sleep(0.2)
    assert await a.lease("poll", "replica-a", 0.3)
    await asyncio.sleep(0.2)
    assert not await b.lease("poll", "replica-b", 0.3), "the renewal extended the lease"
    await asyncio.sleep(0.2)
    assert await b.lease("poll", "replica-b", 0.3)
    assert not await a.lease("poll", "replica-a", 0.3)


async def test_lease_race_has_one_winner(stores: Pair) -> None:
    a, b = stores
    won = await asyncio.gather(*(s.lease("poll", f"h{i}", 30) for i, s in enumerate([a, b] * 10)))
    assert won.count(True) == 1


async def test_dedup_single_flight_across_two_replicas(stores: Pair) -> None:
    a, b = stores
    first, second = Dedup(a, done_ttl=60), Dedup(b, done_ttl=60)
    assert await first.begin("d:msg", 5) is None
    waiting = asyncio.create_task(second.begin("d:msg", 5))
    await asyncio.sleep(0.1)
    assert not waiting.done(), "a redelivery of a message in flight waits for the first attempt"
    await first.finish("d:msg", Result(Outcome.DELIVERED, platform_id="p1"))
    later = await asyncio.wait_for(waiting, 5)
    assert later is not None and later.outcome is Outcome.DUPLICATE
    again = await Dedup(b, done_ttl=60).begin("d:msg", 1)
    assert again is not None and again.outcome is Outcome.DUPLICATE


async def test_dedup_hands_over_after_a_failed_attempt(stores: Pair) -> None:
    a, b = stores
    first, second = Dedup(a, done_ttl=60), Dedup(b, done_ttl=60)
    assert await first.begin("d:msg", 5) is None
    waiting = asyncio.create_task(second.begin("d:msg", 5))
    await asyncio.sleep(0.1)
    await first.finish("d:msg", Result(Outcome.RETRY, Reason.PLATFORM_UNREACHABLE))
    assert await asyncio.wait_for(waiting, 5) is None, "the redelivery now owns the message"
    await second.finish("d:msg", Result(Outcome.DELIVERED))


async def test_dedup_many_replicas_one_owner(stores: Pair) -> None:
    a, b = stores
    replicas = [Dedup(s, done_ttl=60) for s in [a, b] * 4]
    results = await asyncio.gather(*(d.begin("d:msg", 0.3) for d in replicas))
    owners = [d for d, r in zip(replicas, results, strict=True) if r is None]
    assert len(owners) == 1
    assert all(r.outcome is Outcome.RETRY for r in results if r is not None)
    await owners[0].finish("d:msg", Result(Outcome.DELIVERED))


async def test_redis_keys_carry_prefix_and_expire(stores: Pair) -> None:
    a, _ = stores
    if not isinstance(a, RedisStateStore):
        pytest.skip("Redis only")
    await a.claim("c", "v", 60)
    await a.set("s", "v", 60)
    await a.reserve("r", 0.5, 2)
    await a.block("b", 5)
    await a.lease("l", "h", 60)
    if isinstance(a, ClusterStateStore):
        keys = [k async for k in a.cluster.scan_iter(match=a.prefix + "*")]
        assert len({a.cluster.keyslot(k) for k in keys}) == 1, "a workspace's keys share one slot"
        assert sorted(k.removeprefix(a.prefix) for k in keys) == ["c", "l", "rl:b", "rl:r", "s"]
        for key in keys:
            assert 0 < await a.cluster.pttl(key) <= 60_000, key
        return
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        keys = [k async for k in client.scan_iter(match=a.prefix + "*")]
        assert sorted(k.removeprefix(a.prefix) for k in keys) == ["c", "l", "rl:b", "rl:r", "s"]
        for key in keys:
            ttl = await client.pttl(key)
            assert 0 < ttl <= 60_000, key
    finally:
        await client.aclose()


async def test_dedup_claim_is_renewed_while_working_and_expires_when_the_owner_dies(stores: Pair) -> None:
    a, b = stores
    owner, other = Dedup(a, done_ttl=60, claim_ttl=0.6), Dedup(b, done_ttl=60, claim_ttl=0.6)
    assert await owner.begin("d:work", 5) is None
    await asyncio.sleep(1.0)
    blocked = await other.begin("d:work", 0.2)
    assert blocked is not None and blocked.outcome is Outcome.RETRY, "a working owner keeps its claim"
    owner.close()
    await asyncio.sleep(0.8)
    assert await other.begin("d:work", 1) is None, "a dead owner's claim expires and the redelivery takes over"
    await other.finish("d:work", Result(Outcome.DELIVERED))
    other.close()
