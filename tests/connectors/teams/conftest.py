"""Fixtures: the Bot Framework fake (plain http), the Entra fake (TLS, trusted via REQUESTS_CA_BUNDLE), a relay."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from connectors.teams.connector import TeamsConnector
from relay.app import Relay
from tests.conftest import RelayFactory, workspace
from tests.connectors.teams.fakes import APP_ID, SECRET, TENANT, BotFramework, Entra, mint, tls_material

INBOX_KEY = "inbox-test-key-123456"
INBOX_AUTH = {"Authorization": f"Bearer {INBOX_KEY}"}
LOCAL_FAKES = {"allow_private": ["127.0.0.1/32"]}  # the fakes serve platform URLs on loopback


@pytest.fixture
async def cloud(aiohttp_server: Callable[..., Any]) -> BotFramework:
    fake = BotFramework()
    server: TestServer = await aiohttp_server(fake.app())
    fake.base = f"http://127.0.0.1:{server.port}"
    return fake


@pytest.fixture
async def entra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Entra]:
    """msal only accepts https authorities: serve the fake tenant over TLS with a throwaway CA that requests
    (msal's HTTP client) trusts through REQUESTS_CA_BUNDLE. Test-only; the connector has no TLS switches."""
    ssl_ctx, ca_file = tls_material(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    fake = Entra()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_ctx)
    await site.start()
    fake.base = f"https://127.0.0.1:{runner.addresses[0][1]}"
    yield fake
    await runner.cleanup()


def teams_config(cloud: BotFramework, entra: Entra, **extra: Any) -> dict[str, Any]:
    return {
        "type": "teams",
        "app_id": APP_ID,
        "app_secret": SECRET,
        "tenant_id": TENANT,
        "openid_metadata_url": f"{cloud.base}/v1/.well-known/openidconfiguration",
        "authority": f"{entra.base}/{TENANT}",
        "service_url_allowlist": ["127.0.0.1"],
        "file_host_allowlist": ["127.0.0.1"],
        **extra,
    }


class Setup:
    """A running relay (teams -> inbox) with handles on the fakes."""

    def __init__(self, client: TestClient[Any, Any], relay: Relay, cloud: BotFramework, entra: Entra) -> None:
        self.client, self.relay, self.cloud, self.entra = client, relay, cloud, entra
        conn = relay.connectors["teams"]
        assert isinstance(conn, TeamsConnector)
        self.teams = conn
        self.now = [1000.0]
        conn.keys.clock = lambda: self.now[0]

    @property
    def service(self) -> str:
        return self.cloud.base + "/"

    async def post(
        self,
        activity: dict[str, Any],
        token: str | None = "mint",
        path: str = "/hooks/teams/messages",
    ) -> Any:
        if token == "mint":
            token = mint(activity["serviceUrl"])
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.client.post(path, json=activity, headers=headers)

    async def conversations(self) -> list[dict[str, Any]]:
        resp = await self.client.get("/hooks/inbox/api/conversations", headers=INBOX_AUTH)
        convs: list[dict[str, Any]] = (await resp.json())["conversations"]
        return convs

    async def thread(self, ref: str) -> dict[str, Any]:
        resp = await self.client.get(f"/hooks/inbox/api/conversations/{ref}", headers=INBOX_AUTH)
        data: dict[str, Any] = await resp.json()
        return data

    async def reply(self, ref: str, text: str) -> Any:
        return await self.client.post(
            f"/hooks/inbox/api/conversations/{ref}/messages", json={"text": text}, headers=INBOX_AUTH
        )


@pytest.fixture
async def setup(start_relay: RelayFactory, cloud: BotFramework, entra: Entra) -> Setup:
    raw = workspace(
        {"teams": teams_config(cloud, entra), "inbox": {"type": "inbox", "access_key": INBOX_KEY}},
        [{"from": ["teams"], "to": "inbox"}],
        network=LOCAL_FAKES,
    )
    client, relay = await start_relay(raw)
    return Setup(client, relay, cloud, entra)
