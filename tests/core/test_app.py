"""Process lifecycle: readiness, connectors that fail to start are retried, health and index pages."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import RelayFactory, sandbox_workspace


async def test_a_connector_that_fails_to_start_is_retried_until_ready(start_relay: RelayFactory) -> None:
    client, relay = await start_relay(sandbox_workspace())
    assert (await client.get("/readyz")).status == 200
    attempts: list[int] = []

    async def flaky() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("platform down")

    relay.connectors["webchat"].start = flaky  # type: ignore[method-assign]
    relay.started = {}
    await relay.start_connectors()
    body: dict[str, Any] = await (await client.get("/readyz")).json()
    assert body["ready"] is False and body["connectors"]["webchat"] is False
    relay._retry.cancel()  # type: ignore[union-attr]
    relay._retry = asyncio.create_task(relay._retry_failed(first=0.01))
    for _ in range(100):
        if relay.ready:
            break
        await asyncio.sleep(0.02)
    assert len(attempts) == 3
    assert (await client.get("/readyz")).status == 200


async def test_index_lists_the_pages(start_relay: RelayFactory) -> None:
    client, _ = await start_relay(sandbox_workspace())
    page = await (await client.get("/")).text()
    assert 'href="/hooks/webchat/"' in page and 'href="/hooks/inbox/"' in page
    assert (await client.get("/healthz")).status == 200


async def test_unknown_routes_and_media_tokens_are_refused(start_relay: RelayFactory) -> None:
    client, _ = await start_relay(sandbox_workspace())
    assert (await client.get("/hooks/nope/")).status == 404
    resp = await client.get("/media/m1.k1.AAAA")
    assert resp.status == 403


async def test_readiness_is_withdrawn_while_the_state_store_writes_to_disk(start_relay: RelayFactory) -> None:
    client, relay = await start_relay(sandbox_workspace())
    answers = [["state.url: Redis has AOF on"], []]

    async def persistence_problems() -> list[str]:
        return answers[0]

    relay.store.persistence_problems = persistence_problems  # type: ignore[attr-defined]
    watcher = asyncio.create_task(relay.watch_state(every=0.01))
    try:
        for _ in range(100):
            if not relay.state_ok:
                break
            await asyncio.sleep(0.01)
        resp = await client.get("/readyz")
        assert resp.status == 503 and (await resp.json())["state_store_ok"] is False
        answers.pop(0)
        for _ in range(100):
            if relay.state_ok:
                break
            await asyncio.sleep(0.01)
        assert (await client.get("/readyz")).status == 200
    finally:
        watcher.cancel()
