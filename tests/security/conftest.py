"""Fixtures for hostile-input tests: the every-type workspace with the engine replaced by a spy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.conftest import RelayFactory
from tests.security.common import Spy, catch_all, dump_stats, every_type_workspace


@pytest.fixture(scope="session", autouse=True)
def _stats() -> Iterator[None]:
    yield
    dump_stats()


@pytest.fixture
async def hostile(start_relay: RelayFactory, aiohttp_server: Any) -> AsyncIterator[tuple[Any, Any, Spy]]:
    """(client, relay, spy) for a relay with every connector type; nothing reaches a destination."""
    fake = await aiohttp_server(catch_all())
    client, relay = await start_relay(every_type_workspace(str(fake.make_url("")).rstrip("/")))
    spy = Spy()
    for conn in relay.connectors.values():
        conn.ctx.deliver = spy.deliver
    yield client, relay, spy
