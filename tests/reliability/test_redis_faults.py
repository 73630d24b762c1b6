"""The shared Redis fails: behind Sentinel the relays follow the promoted replica, a single Redis outage only
delays; nothing is lost either way, duplicates are counted, and /readyz says 503 while Redis is unusable."""

from __future__ import annotations

import pytest

from bench.reliability.faults import QUICK
from bench.reliability.redis_faults import cluster_run, redis_down_single, sentinel_run
from bench.reliability.redis_nodes import redis_binary

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(120),
    pytest.mark.skipif(redis_binary() is None, reason="redis-server is not installed"),
]


async def test_sentinel_failover_loses_nothing() -> None:
    row, ready = await sentinel_run(QUICK)
    print(row)
    assert row.sent == QUICK.messages and row.lost == 0, row
    assert row.once + row.duplicated == row.sent
    assert "replica promoted" in row.note and "then ready" in row.note, row.note
    assert ready.not_ready, "readiness must say 503 while no primary answers"
    assert row.seconds < QUICK.give_up


async def test_single_redis_outage_delays_and_loses_nothing() -> None:
    row = await redis_down_single(QUICK, down=4.0)
    print(row)
    assert row.sent == QUICK.messages and row.lost == 0, row
    assert row.once + row.duplicated == row.sent
    assert "then ready" in row.note and "503 for" in row.note, row.note
    assert float(row.note.split("503 for ")[1].split(" s")[0]) >= 3.0, row.note


async def test_cluster_failover_loses_nothing() -> None:
    row, _ = await cluster_run(QUICK)
    print(row)
    assert row.sent == QUICK.messages and row.lost == 0, row
    assert row.once + row.duplicated == row.sent
    assert "replica promoted" in row.note and "then ready" in row.note, row.note
    assert row.seconds < QUICK.give_up
