"""The PostgreSQL config store: two relays on one workspace both pick up a change made in one's console,
and a rollback; secrets are stored encrypted; `[config_store]` is validated with clear errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import tomlkit

from relay import config
from relay.admin.console import Console
from relay.app import RELAY_KEY, Relay, create_app
from relay.configwire import follow, open_store
from relay.errors import ConfigError
from tests.admin.conftest import CSRF_VALUE, MASTER, PG_URL, RecordingAudit, base_config, mount_console
from tests.support.crm_sink import CrmSink

CANARY = "Canary-pg-5d1e0b7c93a4f2e8-Qx"


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def replica(aiohttp_client: Any, path: Path) -> tuple[Any, Relay, Console, RecordingAudit]:
    loaded = config.load(path)
    store, loaded = await open_store(loaded, path)
    assert store is not None
    app = await create_app(loaded)
    swapper = follow(app, store)
    console = Console.of(app[RELAY_KEY], store, swapper=swapper)
    audit = mount_console(app, console)
    client = await aiohttp_client(app)
    return client, app[RELAY_KEY], console, audit


async def test_two_replicas_both_pick_up_a_change(
    aiohttp_client: Any, aiohttp_server: Any, tmp_path: Path, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_MASTER_KEY", MASTER)
    sink = CrmSink()
    sink_url = str((await aiohttp_server(sink.app())).make_url("/crm"))
    raw = base_config(sink_url)
    raw["config_store"] = {"backend": "postgres", "dsn": "${RELAY_CONFIG_DSN}", "schema": schema}
    monkeypatch.setenv("RELAY_CONFIG_DSN", PG_URL)
    path = tmp_path / "relay.toml"
    path.write_text(tomlkit.dumps(raw))
    client_a, relay_a, _, audit = await replica(aiohttp_client, path)
    client_b, relay_b, _, _ = await replica(aiohttp_client, path)
    form = {"csrf_token": CSRF_VALUE, "name": "crm2", "url": sink_url, "secret": CANARY, "timeout": "4"}
    resp = await client_a.post(
        "/admin/connectors/new/webhook", data=form, headers={"X-Test-Role": "admin"}, allow_redirects=False
    )
    assert resp.status == 303, await resp.text()
    assert "crm2" in relay_a.connectors
    await eventually(lambda: "crm2" in relay_b.connectors)
    assert relay_b.connectors["crm2"].config.secret.reveal() == CANARY
    assert (await client_b.post("/hooks/crm2", data=b"{}")).status == 401
    conn = await asyncpg.connect(PG_URL)
    try:
        rows = await conn.fetch(f'SELECT document::text AS doc, secrets FROM "{schema}".relay_config')
    finally:
        await conn.close()
    assert len(rows) == 2
    assert all(CANARY not in r["doc"] and CANARY.encode() not in bytes(r["secrets"]) for r in rows)
    assert "${CRM2_SECRET}" in rows[-1]["doc"] or any("${CRM2_SECRET}" in r["doc"] for r in rows)
    data = {"csrf_token": CSRF_VALUE}
    resp = await client_b.post(
        "/admin/config/rollback", data=data, headers={"X-Test-Role": "admin"}, allow_redirects=False
    )
    assert resp.status == 303
    await eventually(lambda: "crm2" not in relay_a.connectors and "crm2" not in relay_b.connectors)
    assert [e["action"] for e in audit.recorded] == ["connector.add"]


def _problems(store: dict[str, Any]) -> list[str]:
    raw = base_config("http://127.0.0.1:9/crm")
    raw["config_store"] = store
    with pytest.raises(ConfigError) as caught:
        config.parse(raw, "<t>")
    return caught.value.problems


def test_config_store_settings_are_validated_with_clear_errors() -> None:
    assert any('needs dsn = "postgresql://' in p for p in _problems({"backend": "postgres"}))
    assert any("dsn is for backend" in p for p in _problems({"dsn": "postgresql://x"}))
    assert any(p.startswith("<t>: config_store.backend") for p in _problems({"backend": "etcd"}))
    assert any("config_store.schema" in p for p in _problems({"backend": "postgres", "dsn": "x", "schema": "A b"}))
