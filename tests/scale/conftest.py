"""Fixtures for the multi-replica tests: a cluster of relay processes behind nginx, sharing Redis."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.scale.cluster import NGINX, Cluster
from tests.state.conftest import REDIS_URL, _reachable, drop_prefix


@pytest.fixture
def workspace_id() -> str:
    """A unique workspace per run, so Redis key prefixes never collide."""
    return f"scale-{secrets.token_hex(5)}"


@pytest.fixture
async def shared_redis(workspace_id: str) -> AsyncIterator[str]:
    if not await _reachable(REDIS_URL):
        pytest.skip(f"no Redis at {REDIS_URL} (set RELAY_TEST_REDIS_URL)")
    yield REDIS_URL
    await drop_prefix(REDIS_URL, f"relay:{workspace_id}:")


@pytest.fixture
def cluster(tmp_path: Path, shared_redis: str) -> Iterator[Cluster]:
    """Replicas and nginx, killed at teardown (before the Redis keys are dropped)."""
    if not os.access(NGINX, os.X_OK):
        pytest.skip(f"nginx not found at {NGINX} (apt-get install nginx-light)")
    found = Cluster(tmp_path)
    try:
        yield found
    finally:
        found.close()
