"""Redis Cluster as the shared state: a workspace in one slot, persistence refused on any node, messages
relayed end to end through two replicas."""

from __future__ import annotations

from typing import Any

import pytest

from bench.reliability.redis_cluster import Cluster
from relay import config
from relay.errors import ConfigError
from relay.state_cluster import ClusterStateStore, cluster_prefix
from tests.conftest import RelayFactory, chat_token, webhook_workspace


def cluster_workspace(crm_url: str, nodes: list[str], workspace: str = "test") -> dict[str, Any]:
    raw = webhook_workspace(crm_url)
    raw["workspace"]["id"] = workspace
    raw["state"] = {"backend": "redis", "cluster": nodes}
    return raw


async def test_a_node_with_persistence_is_refused_by_name(redis_cluster: Cluster) -> None:
    port = list(redis_cluster.procs)[-1]
    open_store = await ClusterStateStore.connect_cluster(redis_cluster.nodes, cluster_prefix("persist"))
    redis_cluster.cli(port, "config", "set", "save", "900 1")
    try:
        with pytest.raises(ConfigError) as caught:
            await ClusterStateStore.connect_cluster(redis_cluster.nodes, cluster_prefix("persist"))
        problems = await open_store.persistence_problems()
    finally:
        redis_cluster.cli(port, "config", "set", "save", "")
        await open_store.close()
    expected = f"state.cluster: Redis at 127.0.0.1:{port} has RDB snapshots on (save 900 1)"
    assert str(caught.value).count("state.cluster:") == 1
    assert expected in str(caught.value)
    assert [p for p in problems if expected in p]


async def test_an_unreachable_cluster_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        await ClusterStateStore.connect_cluster(["127.0.0.1:1"], cluster_prefix("w"))
    assert "state.cluster: cannot use the Redis Cluster at 127.0.0.1:1" in str(caught.value)


@pytest.mark.parametrize(
    ("state", "words"),
    [
        ({"cluster": ["127.0.0.1:7000"], "url": "redis://x:6379/0"}, "cluster excludes url and sentinels"),
        ({"cluster": ["127.0.0.1:7000"], "sentinels": ["s:26379"], "service_name": "m"}, "url and sentinels"),
        ({"cluster": ["127.0.0.1"]}, "write each node as host:port"),
        ({"cluster": ["127.0.0.1:7000"], "db": 2}, "database 0 only"),
    ],
)
def test_cluster_settings_are_checked(state: dict[str, Any], words: str) -> None:
    raw = webhook_workspace("https://crm.example.com/hook")
    raw["state"] = {"backend": "redis", **state}
    with pytest.raises(ConfigError) as caught:
        config.parse(raw, "relay.toml")
    assert words in str(caught.value)
    assert "state" in str(caught.value)


def test_a_memory_backend_with_cluster_nodes_is_refused() -> None:
    raw = webhook_workspace("https://crm.example.com/hook")
    raw["state"] = {"cluster": ["127.0.0.1:7000"]}
    with pytest.raises(ConfigError, match='cluster is for backend = "redis"'):
        config.parse(raw, "relay.toml")


async def test_messages_relay_through_two_replicas_on_the_cluster(
    redis_cluster: Cluster, crm_sink: tuple[Any, str], start_relay: RelayFactory
) -> None:
    sink, url = crm_sink
    raw = cluster_workspace(url, redis_cluster.nodes, "e2e")
    (one, relay), (two, _) = await start_relay(raw), await start_relay(raw)
    assert isinstance(relay.store, ClusterStateStore)
    for n in range(20):
        client = one if n % 2 else two
        resp = await client.post(
            "/hooks/webchat/api/messages", json={"id": f"m{n}", "text": "hi"}, headers=await chat_token(client)
        )
        assert resp.status == 200
    assert len(sink.received) == 20
    keys = [k async for k in relay.store.cluster.scan_iter(match=cluster_prefix("e2e") + "*")]
    assert keys and len({relay.store.cluster.keyslot(k) for k in keys}) == 1
    ready = await one.get("/readyz")
    assert ready.status == 200
