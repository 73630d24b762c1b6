"""The relay refuses a Redis that writes to disk, and never shows the password from state.url."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from relay import config
from relay.app import make_store
from relay.errors import ConfigError
from relay.state_redis import RedisStateStore, describe
from tests.conftest import RelayFactory, chat_token, sandbox_workspace, workspace
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


async def refusal_unless_assumed(url: str) -> str:
    with pytest.raises(ConfigError) as info:
        store = await RedisStateStore.connect(url, prefix="relay:t:", assume_no_persistence=True)
        await store.close()
    return str(info.value)


async def test_config_disabled_is_refused_unless_the_admin_vouches(redis_server: RedisServer) -> None:
    url = redis_server(*NO_DISK, *NO_CONFIG)
    text = await refusal(url)
    assert "cannot prove that Redis at" in text and "state.assume_no_persistence = true" in text
    store = await RedisStateStore.connect(url, prefix="relay:t:", assume_no_persistence=True)
    await store.close()
    aof = redis_server("--save", "", "--appendonly", "yes", *NO_CONFIG)
    assert "AOF on (INFO aof_enabled:1)" in await refusal_unless_assumed(aof)


async def test_a_save_schedule_hidden_by_a_renamed_config_is_refused(redis_server: RedisServer) -> None:
    url = redis_server("--save", "5 1", "--appendonly", "no", *NO_CONFIG)
    assert "cannot prove that Redis at" in await refusal(url)


async def test_config_disabled_refuses_once_a_snapshot_was_taken(redis_server: RedisServer) -> None:
    url = redis_server("--save", "60 1", "--appendonly", "no", *NO_CONFIG)
    client = aioredis.Redis.from_url(url)
    try:
        await client.bgsave()
    finally:
        await client.aclose()
    assert "RDB snapshots on (INFO shows snapshots taken)" in await refusal_unless_assumed(url)


async def test_assume_no_persistence_reaches_the_store(redis_server: RedisServer) -> None:
    raw = workspace({"crm": {"type": "webhook", "url": "http://127.0.0.1:9/", "secret": "webhook-secret-0123456"}}, [])
    raw["state"] = {"backend": "redis", "url": redis_server(*NO_DISK, *NO_CONFIG)}
    with pytest.raises(ConfigError, match="cannot prove"):
        await make_store(config.parse(raw, "<test>"))
    raw["state"]["assume_no_persistence"] = True
    store = await make_store(config.parse(raw, "<test>"))
    try:
        assert isinstance(store, RedisStateStore) and store.assume_no_persistence
        assert await store.persistence_problems() == []
    finally:
        await store.close()


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


async def test_persistence_switched_on_at_run_time_stops_intake(
    redis_server: RedisServer, start_relay: RelayFactory
) -> None:
    url = redis_server(*NO_DISK)
    raw = sandbox_workspace()
    raw["state"] = {"backend": "redis", "url": url}
    client, relay = await start_relay(raw)
    admin = aioredis.Redis.from_url(url)
    watcher = asyncio.create_task(relay.watch_state(every=0.05))
    try:
        headers = await chat_token(client)
        assert (
            await client.post("/hooks/webchat/api/messages", json={"id": "m1", "text": "hi"}, headers=headers)
        ).status == 200
        await admin.config_set("appendonly", "yes")
        for _ in range(200):
            if relay.engine.hold is not None:
                break
            await asyncio.sleep(0.02)
        resp = await client.post("/hooks/webchat/api/messages", json={"id": "m2", "text": "now?"}, headers=headers)
        assert resp.status == 503 and resp.headers["Retry-After"] == "30"
        assert (await resp.json())["reason"] == "state_store_persistent"
        assert (await client.get("/readyz")).status == 503
        assert relay.metrics.value("relay_rejected_total", reason="state_store_persistent") == 1
        await admin.config_set("appendonly", "no")
        for _ in range(200):
            if relay.engine.hold is None:
                break
            await asyncio.sleep(0.02)
        assert (
            await client.post("/hooks/webchat/api/messages", json={"id": "m3", "text": "ok"}, headers=headers)
        ).status == 200
    finally:
        watcher.cancel()
        await admin.aclose()
