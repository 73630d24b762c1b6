"""An optional bearer token guards /metrics; while it is set the index page names no workspace or connector."""

from __future__ import annotations

import pytest

from relay import config
from relay.errors import ConfigError
from tests.conftest import RelayFactory, sandbox_workspace

TOKEN = "metrics-token-7f3a9c2e5b1d4806"


@pytest.fixture
def guarded_metrics(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    monkeypatch.setenv("RELAY_METRICS_TOKEN", TOKEN)
    raw = sandbox_workspace()
    raw["server"] = {"metrics_token": "${RELAY_METRICS_TOKEN}"}
    return raw


async def test_metrics_need_the_bearer_token(start_relay: RelayFactory, guarded_metrics: dict[str, object]) -> None:
    client, relay = await start_relay(guarded_metrics)
    assert relay.loaded.relay.server.metrics_token is not None and TOKEN in relay.loaded.secrets()
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": TOKEN}):
        resp = await client.get("/metrics", headers=headers)
        body = await resp.text()
        assert resp.status == 401, headers
        assert "relay_" not in body and "webchat" not in body and TOKEN not in body
    for bad in ("Bearer é" + TOKEN, "Bearer \u202e"):
        assert (await client.get("/metrics", headers={"Authorization": bad})).status == 401
    resp = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status == 200 and "relay_inflight" in await resp.text()


async def test_the_index_lists_nothing_while_metrics_are_private(
    start_relay: RelayFactory, guarded_metrics: dict[str, object]
) -> None:
    client, _ = await start_relay(guarded_metrics)
    resp = await client.get("/")
    page = await resp.text()
    assert resp.status == 200 and "Relay is running" in page
    assert "webchat" not in page and "inbox" not in page and "Workspace" not in page
    open_client, _ = await start_relay(sandbox_workspace())
    assert "/hooks/webchat/" in await (await open_client.get("/")).text()
    assert (await open_client.get("/metrics")).status == 200


def test_a_weak_metrics_token_is_refused() -> None:
    raw = sandbox_workspace()
    raw["server"] = {"metrics_token": "changeme"}
    with pytest.raises(ConfigError, match=r"server\.metrics_token: too weak: .*openssl rand -base64 32"):
        config.parse(raw, "<test>")
