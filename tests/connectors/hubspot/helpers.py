"""Shared helpers for the HubSpot tests: the connector's config against the fake, a running workspace."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

from relay.app import Relay
from tests.conftest import RelayFactory, workspace
from tests.connectors.hubspot.fake import APP_ID, CLIENT_ID, CLIENT_SECRET, DEV_KEY, REFRESH, FakeHubSpot

PUBLIC = "https://relay.example.com"


def hs_config(
    base: str, channel: str | None = None, accounts: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    """The connector pointed at the fake (API and consent page), with the seeded refresh token."""
    cfg: dict[str, Any] = {
        "type": "hubspot",
        "app_id": APP_ID,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH,
        "developer_api_key": DEV_KEY,
        "api_base_url": base,
        "app_base_url": base,
        "file_hosts": ["127.0.0.1:*", "127.0.0.1"],
    }
    if channel is not None:
        cfg["channel_id"] = channel
    if accounts is not None:
        cfg["accounts"] = accounts
    return cfg | extra


@dataclass
class Env:
    client: TestClient[Any, Any]
    relay: Relay
    fake: FakeHubSpot
    channel: str
    accounts: dict[str, str]

    def published(self) -> list[dict[str, Any]]:
        """The customer messages HubSpot holds, oldest first."""
        return [m for m in self.fake.messages.values() if m["direction"] == "INCOMING"]


async def start(
    aiohttp_server: Any,
    start_relay: RelayFactory,
    messengers: dict[str, dict[str, Any]] | None = None,
    fake: FakeHubSpot | None = None,
    settings: dict[str, Any] | None = None,
    **extra: Any,
) -> Env:
    """A workspace with `messengers` (default: a web chat) routed to HubSpot at the fake, seeded as connected;
    `settings` are more workspace sections, `extra` more keys of the hubspot connector."""
    fake = fake or FakeHubSpot()
    server = await aiohttp_server(fake.app())
    fake.base = str(server.make_url("")).rstrip("/")
    messengers = messengers or {"webchat": {"type": "webchat"}}
    channel, accounts = fake.seed(f"{PUBLIC}/hooks/hubspot", tuple(messengers))
    connectors = {**messengers, "hubspot": hs_config(fake.base, channel, accounts, **extra)}
    raw = workspace(
        connectors, [{"from": list(messengers), "to": "hubspot"}], server={"public_url": PUBLIC}, **(settings or {})
    )
    client, relay = await start_relay(raw)
    fake.relay_url = str(client.make_url("")).rstrip("/")
    return Env(client, relay, fake, channel, accounts)


async def until(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Wait for background work to show up."""
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")
