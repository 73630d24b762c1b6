"""Fixtures for hostile-input tests: the every-type workspace with the engine replaced by a spy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from relay.connector import Result
from relay.engine import Engine
from relay.model import Message
from tests.conftest import RelayFactory
from tests.security.common import Spy, catch_all, dump_stats, every_type_workspace


@pytest.fixture(scope="session", autouse=True)
def _stats() -> Iterator[None]:
    yield
    dump_stats()


@pytest.fixture
async def hostile(
    start_relay: RelayFactory, aiohttp_server: Any, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Any, Any, Spy]]:
    """(client, relay, spy) for a relay with every connector type; nothing reaches a destination (webhook
    Hooks deliver through the engine, so the engine's deliver is the spy's before the app is built)."""
    spy = Spy()

    async def deliver(engine: Engine, message: Message, deadline: float | None = None) -> Result:
        return await spy.deliver(message, deadline)

    monkeypatch.setattr(Engine, "deliver", deliver)
    fake = await aiohttp_server(catch_all())
    client, relay = await start_relay(every_type_workspace(str(fake.make_url("")).rstrip("/")))
    for conn in relay.connectors.values():
        conn.ctx.deliver = spy.deliver
    yield client, relay, spy
