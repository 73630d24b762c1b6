"""Fixtures: a real BottleCRM peer per test session, and a relay (webchat -> bottlecrm) wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from connectors.bottlecrm import admin
from relay.app import Relay
from tests.conftest import RelayFactory, workspace
from tests.peers.bottlecrm import BottleCRM, Credentials
from tests.peers.common import PeerUnavailable, free_port


@pytest.fixture(scope="session")
def bottlecrm_peer() -> Iterator[tuple[BottleCRM, Credentials]]:
    """A running BottleCRM on a fresh copy of the migrated template; FAILS (never skips) if it cannot run."""
    crm = BottleCRM()
    try:
        crm.start()
        creds = crm.provision()
    except PeerUnavailable as exc:
        crm.stop()
        pytest.fail(str(exc), pytrace=False)
    try:
        yield crm, creds
    finally:
        crm.stop()


class CrmApi:
    """Async calls to the peer (async so the relay's event loop can answer the webhooks they trigger)."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self.session, self.base, self.token = session, base, token

    async def __call__(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        async with self.session.request(method, f"{self.base}{path}", json=body, headers=headers) as resp:
            return resp.status, await resp.json(content_type=None) if resp.status != 204 else None


@dataclass
class Wired:
    client: TestClient[Any, Any]
    relay: Relay
    crm: BottleCRM
    creds: Credentials
    agent: CrmApi
    bot: CrmApi
    webhook_id: str
    secret: str
    hook_url: str


@pytest.fixture
async def wire(
    start_relay: RelayFactory, bottlecrm_peer: tuple[BottleCRM, Credentials]
) -> AsyncIterator[Callable[..., Awaitable[Wired]]]:
    """wire(**bottlecrm_config) -> Wired: registers a webhook for a fresh relay port, then starts the relay."""
    crm, creds = bottlecrm_peer
    session = aiohttp.ClientSession()
    agent = CrmApi(session, crm.base_url, creds.jwt)
    webhooks: list[str] = []

    async def make(**extra: Any) -> Wired:
        port = free_port()
        hook_url = f"http://127.0.0.1:{port}/hooks/crm/"
        events = ["ticket.comment_added"] if extra.get("reply_source") == "comment" else ["interaction.created"]
        made = await admin.ensure_webhook(crm.base_url, creds.jwt, hook_url, events)
        assert made is not None
        webhooks.append(str(made["id"]))
        cfg = {
            "type": "bottlecrm",
            "api_base_url": crm.base_url,
            "api_token": creds.pat,
            "webhook_secret": made["secret"],
            **extra,
        }
        raw = workspace(
            {"webchat": {"type": "webchat"}, "crm": cfg},
            [{"from": ["webchat"], "to": "crm"}],
            server={"public_url": f"http://127.0.0.1:{port}"},
        )
        client, relay = await start_relay(raw, port=port)
        return Wired(
            client,
            relay,
            crm,
            creds,
            agent,
            CrmApi(session, crm.base_url, creds.pat),
            str(made["id"]),
            made["secret"],
            hook_url,
        )

    try:
        yield make
    finally:
        for webhook_id in webhooks:
            await agent("DELETE", f"/api/webhooks/{webhook_id}/")
        await session.close()
