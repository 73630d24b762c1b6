"""The relay refuses a Redis that writes to disk, and never shows the password from state.url."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from relay import config
from relay.app import make_store
from relay.errors import ConfigError
from relay.state_redis import RedisStateStore, describe
from tests.conftest import workspace
from tests.state.conftest import RedisServer, free_port

PASSWORD = "s3cret-redis-pass-0123"
NO_DISK = ("--save", "", "--appendonly", "no")
NO_CONFIG = ("--rename-command", "CONFIG", "")


async def refusal(url: str) -> str:
    with pytest.raises(ConfigError) as info:
        store = await RedisStateStore.connect(url, prefix="relay:t:")
        await store.close()
    text = str(info.value)
    assert text.startswith("state.url: ")
    assert PASSWORD not in text
    return text


async def test_shared_local_redis_has_no_persistence(redis_url: str) -> None:
    store = await RedisStateStore.connect(redis_url, prefix="relay:t:")
    await store.close()


async def test_refuses_rdb_snapshots(redis_server: RedisServer) -> None:
    url = redis_server("--save", "60 1", "--appendonly", "no")
    text = await refusal(url)
    assert "RDB snapshots on (save 60 1)" in text
    assert f"Redis at {describe(url)}" in text
    assert "--save '' --appendonly no" in text and "state.backend = memory" in text


async def test_refuses_aof(redis_server: RedisServer) -> None:
    text = await refusal(redis_server("--save", "", "--appendonly", "yes"))
    assert "AOF on (appendonly yes)" in text
    assert "RDB" not in text


async def test_refusal_hides_the_password(redis_server: RedisServer) -> None:
    url = redis_server("--save", "60 1", "--appendonly", "yes", password=PASSWORD)
    text = await refusal(url)
    assert "RDB snapshots on" in text and "AOF on" in text


async def test_accepts_a_server_without_persistence(redis_server: RedisServer) -> None:
    store = await RedisStateStore.connect(redis_server(*NO_DISK, password=PASSWORD), prefix="relay:t:")
    try:
        assert await store.claim("k", "v", 5)
    finally:
        await store.close()


async def test_config_disabled_falls_back_to_info(redis_server: RedisServer) -> None:
    store = await RedisStateStore.connect(redis_server(*NO_DISK, *NO_CONFIG), prefix="relay:t:")
    await store.close()
    assert "AOF on (INFO aof_enabled:1)" in await refusal(redis_server("--save", "", "--appendonly", "yes", *NO_CONFIG))


async def test_config_disabled_refuses_once_a_snapshot_was_taken(redis_server: RedisServer) -> None:
    url = redis_server("--save", "60 1", "--appendonly", "no", *NO_CONFIG)
    client = aioredis.Redis.from_url(url)
    try:
        await client.bgsave()
    finally:
        await client.aclose()
    assert "RDB snapshots on (INFO shows snapshots taken)" in await refusal(url)


async def test_unreachable_redis_names_state_url() -> None:
    text = await refusal(f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0")
    assert "cannot use Redis at 127.0.0.1:" in text


async def test_wrong_password_names_state_url(redis_server: RedisServer) -> None:
    url = redis_server(*NO_DISK, password="the-right-password")
    text = await refusal(url.replace("the-right-password", PASSWORD))
    assert "cannot use Redis at" in text


async def test_make_store_uses_the_workspace_prefix(redis_url: str) -> None:
    raw = workspace({"crm": {"type": "webhook", "url": "http://127.0.0.1:9/", "secret": "webhook-secret-0123456"}}, [])
    raw["state"] = {"backend": "redis", "url": redis_url}
    store = await make_store(config.parse(raw, "<test>"))
    try:
        assert isinstance(store, RedisStateStore) and store.prefix == "relay:test:"
    finally:
        await store.close()


def test_relay_run_refuses_to_start(redis_server: RedisServer, tmp_path: Path) -> None:
    url = redis_server("--save", "60 1", password=PASSWORD)
    cfg = tmp_path / "relay.toml"
    cfg.write_text(
        '[workspace]\nid = "refuse"\nkeys = [{ id = "k1", secret = "workspace-key-0123456789abcdef" }]\n'
        f'[state]\nbackend = "redis"\nurl = "{url}"\n'
        '[connectors.crm]\ntype = "webhook"\nurl = "http://127.0.0.1:9/"\nsecret = "webhook-secret-0123456789"\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "relay.cli", "run", "--config", str(cfg), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "state.url: Redis at 127.0.0.1:" in proc.stderr and "RDB snapshots on (save 60 1)" in proc.stderr
    assert PASSWORD not in proc.stderr + proc.stdout
