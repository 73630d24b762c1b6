"""The workspace allowlist on the PostgreSQL config store: the owner's choice is a version of the stored
configuration, so every replica enforces it at once (a file of one replica's own would bind that one only)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from relay import config
from relay.admin.principal import AUDIT, CSRF_HEADER, Role
from relay.app import RELAY_KEY, create_app
from relay.configwire import StoreWiring, open_store
from relay.state import MemoryStateStore
from tests.admin.conftest import MASTER, PG_URL, base_config
from tests.support.admin_console import HASHED, Console

SWITCH = "/admin/allowlist"


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def replica(aiohttp_client: Any, path: Path) -> Console:
    loaded = config.load(path)
    store, loaded = await open_store(loaded, path)
    assert store is not None
    wiring = StoreWiring(store)
    state = MemoryStateStore()
    app = await create_app(loaded, store=state, console=wiring.pages)
    wiring.follow(app)
    return Console(await aiohttp_client(app), app[RELAY_KEY], state, path.parent)


async def signed_in(console: Console, role: Role) -> dict[str, str]:
    sid, csrf = await console.session_for(role)
    console.client.session.cookie_jar.update_cookies({console.cookie: sid})
    return {CSRF_HEADER: csrf}


async def test_the_owners_allowlist_binds_every_replica(
    aiohttp_client: Any, tmp_path: Path, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_MASTER_KEY", MASTER)
    monkeypatch.delenv("RELAY_DATA_DIR", raising=False)
    raw = base_config("http://127.0.0.1:9/crm")
    raw["config_store"] = {"backend": "postgres", "dsn": PG_URL, "schema": schema}
    raw["admin"] = {"local_owner": HASHED, "roles": {"owner": ["owners"]}}
    path = tmp_path / "relay.toml"
    path.write_text(tomlkit.dumps(raw))
    first, second = await replica(aiohttp_client, path), await replica(aiohttp_client, path)

    owner = await signed_in(first, Role.OWNER)
    refused = await first.client.post(SWITCH, data={"type": ["inbox"]}, headers=owner)
    assert refused.status == 409 and "crm (webhook)" in await refused.text()
    saved = await first.client.post(SWITCH, data={"type": ["webhook", "inbox"]}, headers=owner, allow_redirects=False)
    assert saved.status == 303, await saved.text()
    await eventually(lambda: second.relay.loaded.relay.workspace.allowed_types == ["inbox", "webhook"])
    assert not (tmp_path / "relay-data").exists(), "nothing in a directory of one replica's own"

    admin = await signed_in(second, Role.OWNER)
    page = await (await second.client.get(SWITCH)).text()
    assert 'value="inbox" checked' in page and 'value="telegram" checked' not in page
    form = {"csrf_token": admin[CSRF_HEADER], "name": "tg", "token": "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345678"}
    added = await second.client.post("/admin/connectors/new/telegram", data=form, headers=admin)
    assert added.status in (403, 409, 422) and "not allowed" in await added.text()
    assert "tg" not in second.relay.connectors

    audit = [e["action"] for e in await _audit(second)]
    assert "allowlist.set" in audit, "the owner's change on the first replica shows on the second"


async def _audit(console: Console) -> list[dict[str, Any]]:
    return await console.admin_app[AUDIT].entries("allowlist")
