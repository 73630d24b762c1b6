"""Fixtures for the connector pages: a relay on a config file, the console mounted at /admin, and a test-only
middleware standing in for the session (it signs a request in with the role named in a header)."""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import tomlkit
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp.typedefs import Handler

from relay.admin.console import Console
from relay.admin.console_pages import NAV_ITEMS, console_pages
from relay.admin.layout import NAV
from relay.admin.principal import AUDIT, CSRF, PRINCIPAL, Principal, Role
from relay.app import RELAY_KEY, create_app
from relay.configstore import ConfigStore, FileStore, load
from tests.connectors.telegram.fake_api import FakeTelegram
from tests.support.admin_console import ConsoleFactory, console_factory
from tests.support.crm_sink import SINK_SECRET, CrmSink

PG_URL = os.environ.get("RELAY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
MASTER = "Qm9vdHN0cmFwLW1hc3Rlci1rZXktZm9yLXRlc3Rz"
CSRF_VALUE = "csrf-test-token-0123456789"
ROLE_HEADER = "X-Test-Role"


@dataclass
class RecordingAudit:
    """The audit log as the console pages call it: every entry, to assert on (and scan for secrets)."""

    recorded: list[dict[str, Any]] = field(default_factory=list)

    async def record(
        self, action: str, who: Principal | None, address: str | None, keys: Sequence[str] = (), outcome: str = "ok"
    ) -> None:
        self.recorded.append(
            {"action": action, "who": who.subject if who else None, "keys": list(keys), "outcome": outcome}
        )

    async def entries(self, text: str = "", limit: int | None = 500) -> list[dict[str, Any]]:
        found = [e for e in reversed(self.recorded) if text in e["action"]]
        return found if limit is None else found[:limit]


@web.middleware
async def test_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    """TEST ONLY: the role named in X-Test-Role is signed in, with a fixed CSRF token."""
    role = request.headers.get(ROLE_HEADER)
    if role:
        with warnings.catch_warnings():  # the shared interface keys are plain strings (aiohttp prefers RequestKey)
            warnings.simplefilter("ignore", web.NotAppKeyWarning)
            request[PRINCIPAL] = Principal(f"user-{role}", role.title(), Role[role.upper()], "local")
            request[CSRF] = CSRF_VALUE
    return await handler(request)


def mount_console(app: web.Application, console: Console) -> RecordingAudit:
    """The connector pages at /admin, as the admin sub-app will include them."""
    admin = web.Application(middlewares=[test_session])
    audit = RecordingAudit()
    admin[AUDIT] = audit
    admin[NAV] = list(NAV_ITEMS)
    admin.add_routes(console_pages(console))
    app.add_subapp("/admin", admin)
    return audit


@dataclass
class Workspace:
    client: TestClient[Any, Any]
    console: Console
    audit: RecordingAudit
    path: Path
    sink: CrmSink
    fake: FakeTelegram
    fake_url: str

    async def post(self, path: str, role: str = "admin", **form: str) -> Any:
        data = {"csrf_token": CSRF_VALUE, **form}
        return await self.client.post(path, data=data, headers={ROLE_HEADER: role}, allow_redirects=False)

    async def get(self, path: str, role: str = "admin") -> Any:
        return await self.client.get(path, headers={ROLE_HEADER: role}, allow_redirects=False)


def base_config(crm_url: str) -> dict[str, Any]:
    return {
        "workspace": {"id": "test", "keys": [{"id": "k1", "secret": "test-workspace-key-0123456789abcdef"}]},
        "connectors": {"crm": {"type": "webhook", "url": crm_url, "secret": SINK_SECRET}},
        "routes": [],
    }


StartWorkspace = Callable[..., Awaitable[Workspace]]


@pytest.fixture
def start_workspace(
    aiohttp_client: Any, aiohttp_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> StartWorkspace:
    """A relay running on a TOML file in tmp_path, with a CRM sink and the Telegram fake beside it."""
    monkeypatch.setenv("RELAY_MASTER_KEY", MASTER)
    monkeypatch.delenv("RELAY_SECRETS_FILE", raising=False)

    async def start(extra: dict[str, Any] | None = None, store: ConfigStore | None = None) -> Workspace:
        sink, fake = CrmSink(), FakeTelegram()
        sink_server = await aiohttp_server(sink.app())
        fake_server = await aiohttp_server(fake.app())
        raw = base_config(str(sink_server.make_url("/crm")))
        raw.update(extra or {})
        path = tmp_path / "relay.toml"
        path.write_text(tomlkit.dumps(raw))
        path.chmod(0o600)
        store = store or FileStore(path)
        loaded = load(store, await store.read())
        app = await create_app(loaded)
        console = Console.of(app[RELAY_KEY], store)
        audit = mount_console(app, console)
        client = await aiohttp_client(app)
        fake_url = str(fake_server.make_url("/")).rstrip("/")
        return Workspace(client, console, audit, path, sink, fake, fake_url)

    return start


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    """A schema of this test's own, dropped afterwards."""
    name = f"cfg_{uuid.uuid4().hex[:12]}"
    yield name
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
def start_console(aiohttp_client: Any, tmp_path: Path) -> ConsoleFactory:
    """Start a relay with the console (default: the break-glass owner) with its files in tmp_path."""
    return console_factory(aiohttp_client, tmp_path)
