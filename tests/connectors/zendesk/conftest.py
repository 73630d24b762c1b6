"""A relay with web chat customers routed to Zendesk, against the SunCo fake whose webhook posts back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from connectors.zendesk.connector import ZendeskConnector
from relay import config
from relay.app import RELAY_KEY, Relay, create_app
from relay.state import MemoryStateStore, StateStore
from tests.conftest import chat_token, workspace
from tests.connectors.zendesk.contract import zendesk_config
from tests.connectors.zendesk.fake import FakeSunco


@dataclass
class Zd:
    """One relay (webchat instances -> `zd`), the fake and its base URL."""

    client: TestClient[Any, Any]
    relay: Relay
    fake: FakeSunco
    base: str

    @property
    def conn(self) -> ZendeskConnector:
        found = self.relay.connectors["zd"]
        assert isinstance(found, ZendeskConnector)
        return found

    async def customer(self, instance: str = "webchat") -> dict[str, str]:
        return await chat_token(self.client, instance)

    async def say(self, who: dict[str, str], msg_id: str, text: str, instance: str = "webchat") -> Any:
        resp = await self.client.post(f"/hooks/{instance}/api/messages", json={"id": msg_id, "text": text}, headers=who)
        return resp.status, await resp.json()

    async def replies(self, who: dict[str, str], wait: float = 2.0, instance: str = "webchat") -> list[dict[str, Any]]:
        resp = await self.client.get(f"/hooks/{instance}/api/events?since=0&wait={wait}", headers=who)
        items: list[dict[str, Any]] = (await resp.json())["items"]
        return items

    def conversation(self) -> str:
        assert len(self.fake.conversations) == 1, list(self.fake.conversations)
        return next(iter(self.fake.conversations))


StartZd = Callable[..., Awaitable[Zd]]


def zd_workspace(
    base: str, instances: tuple[str, ...] = ("webchat",), messengers: dict[str, Any] | None = None, **zd: Any
) -> dict[str, Any]:
    """Web chat instances (and any other `messengers`) routed to `zd`, the zendesk connector at `base`."""
    connectors: dict[str, Any] = {name: {"type": "webchat"} for name in instances} | (messengers or {})
    connectors["zd"] = zendesk_config(base, **zd)
    sources = [name for name in connectors if name != "zd"]
    return workspace(connectors, [{"from": sources, "to": "zd"}], state={"claim_ttl": 1.0})


@pytest.fixture
async def sunco(aiohttp_server: Any) -> AsyncIterator[tuple[FakeSunco, str]]:
    """The SunCo fake (webhook retries scaled down) and its base URL."""
    fake = FakeSunco(webhook_timeout=20.0, retry_base=0.05)
    server = await aiohttp_server(fake.app())
    fake.base = str(server.make_url("")).rstrip("/")
    yield fake, fake.base
    await fake.close()


@pytest.fixture
def start_zd(aiohttp_client: Any, sunco: tuple[FakeSunco, str]) -> StartZd:
    """Start a relay against the fake; `store` lets two relays share state as replicas sharing Redis do;
    `hook` registers the fake's webhook to this relay."""

    async def start(
        instances: tuple[str, ...] = ("webchat",),
        store: StateStore | None = None,
        hook: bool = True,
        server: dict[str, Any] | None = None,
        messengers: dict[str, Any] | None = None,
        **zd: Any,
    ) -> Zd:
        fake, base = sunco
        raw = zd_workspace(base, instances, messengers, **zd)
        if server:
            raw["server"] = server
        loaded = config.parse(raw, "<test>")
        app = await create_app(loaded, store or MemoryStateStore())
        client: TestClient[Any, Any] = await aiohttp_client(app)
        if hook:
            fake.add_webhook(str(client.make_url("/hooks/zd")))
        return Zd(client, app[RELAY_KEY], fake, base)

    return start


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until `check()` is true."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not check():
        assert loop.time() < end, "condition not met in time"
        await asyncio.sleep(0.02)
