"""Fixtures for the state stores: the shared local Redis (unique prefix, cleaned up) and throwaway servers."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bench.reliability.redis_cluster import Cluster, start_cluster
from relay.state import MemoryStateStore, StateStore
from relay.state_cluster import ClusterStateStore
from relay.state_redis import RedisStateStore

REDIS_URL = os.environ.get("RELAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _reachable(url: str) -> bool:
    client = aioredis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except RedisError:
        return False
    finally:
        await client.aclose()


async def drop_prefix(url: str, prefix: str) -> list[str]:
    """Delete every key under `prefix`; return their names."""
    client = aioredis.Redis.from_url(url, decode_responses=True)
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*", count=500)]
        if keys:
            await client.delete(*keys)
        return keys
    finally:
        await client.aclose()


@pytest.fixture
async def redis_url() -> str:
    if not await _reachable(REDIS_URL):
        pytest.skip(f"no Redis at {REDIS_URL} (set RELAY_TEST_REDIS_URL)")
    return REDIS_URL


@pytest.fixture
def prefix() -> str:
    return f"relay:test-{secrets.token_hex(6)}:"


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One Redis Cluster (3 primaries, 3 replicas, persistence off) for the session's cluster tests."""
    try:
        cluster = start_cluster(tmp_path_factory.mktemp("cluster"))
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    yield cluster
    cluster.stop()


@pytest.fixture(params=["memory", "redis", "cluster"])
async def stores(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[tuple[StateStore, StateStore]]:
    """Two handles on one shared state, as two replicas see it: the same MemoryStateStore, two connections
    to Redis under one prefix, or two to a Redis Cluster under one hash-tagged prefix. The same behavioural
    tests run over every backend."""
    if request.param == "memory":
        mem = MemoryStateStore()
        yield mem, mem
        await mem.close()
        return
    if request.param == "cluster":
        nodes = request.getfixturevalue("redis_cluster").nodes
        tagged = "relay:{" + prefix.split(":")[1] + "}:"
        one = await ClusterStateStore.connect_cluster(nodes, tagged)
        two = await ClusterStateStore.connect_cluster(nodes, tagged)
        try:
            yield one, two
        finally:
            await one.close()
            await two.close()
        return
    if not await _reachable(REDIS_URL):
        pytest.skip(f"no Redis at {REDIS_URL} (set RELAY_TEST_REDIS_URL)")
    first = await RedisStateStore.connect(REDIS_URL, prefix=prefix)
    second = await RedisStateStore.connect(REDIS_URL, prefix=prefix)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()
        await drop_prefix(REDIS_URL, prefix)


RedisServer = Callable[..., str]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """Start throwaway redis-servers with given arguments (in tmp_path); returns their URL. Killed at teardown."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str, password: str | None = None) -> str:
        port = free_port()
        workdir = tmp_path / f"redis-{port}"
        workdir.mkdir()
        cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--daemonize", "no"]
        cmd += ["--logfile", str(workdir / "redis.log"), *args]
        if password:
            cmd += ["--requirepass", password]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {(workdir / 'redis.log').read_text()[-500:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    auth = f":{password}@" if password else ""
                    return f"redis://{auth}127.0.0.1:{port}/0"
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    try:
        yield start
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(5)
