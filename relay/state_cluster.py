"""Redis Cluster: redis-py routes each key to its slot; a workspace's keys share one slot through the hash tag
`{workspace}`, and every node, primaries and replicas, must keep nothing on disk."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisClusterException, RedisError

from relay.errors import ConfigError
from relay.sentinel_config import parse_sentinel
from relay.state_redis import RedisStateStore
from relay.state_redis import _persistence_problems as persistence_problems_of

log = logging.getLogger("relay.state")

TIMEOUTS = {"socket_connect_timeout": 2.0, "socket_timeout": 5.0}


def cluster_prefix(workspace: str) -> str:
    """The key prefix whose hash tag puts every key of `workspace` in one slot."""
    return f"relay:{{{workspace}}}:"


class ClusterStateStore(RedisStateStore):
    """The Redis state store on a Redis Cluster; persistence is checked on every node the cluster names."""

    def __init__(self, client: RedisCluster, prefix: str, password: str | None) -> None:
        super().__init__(client, prefix)
        self.cluster = client
        self.password = password

    @classmethod
    async def connect_cluster(cls, nodes: Sequence[str], prefix: str, password: str | None = None) -> ClusterStateStore:
        """Learn the cluster from `nodes`, check every node keeps nothing on disk; ConfigError otherwise."""
        startup = [ClusterNode(*parse_sentinel(n)) for n in nodes]
        client = RedisCluster(
            startup_nodes=startup,
            password=password,
            decode_responses=True,
            health_check_interval=30,
            socket_connect_timeout=TIMEOUTS["socket_connect_timeout"],
            socket_timeout=TIMEOUTS["socket_timeout"],
        )
        store = cls(client, prefix, password)
        try:
            await client.initialize()
            await client.ping()
            problems = await store.persistence_problems()
        except (RedisError, RedisClusterException) as exc:
            await store.close()
            text = str(exc) or type(exc).__name__
            detail = type(exc).__name__ if password and password in text else text
            raise ConfigError(
                [
                    f"state.cluster: cannot use the Redis Cluster at {', '.join(nodes)}: {detail.rstrip('. ')}; "
                    "check the node addresses, the password, and that every slot is served (CLUSTER INFO: "
                    "cluster_state:ok)"
                ]
            ) from None
        except BaseException:
            await store.close()
            raise
        if problems:
            await store.close()
            raise ConfigError(problems)
        log.info("state store: redis cluster of %d nodes", len(await store.members()))
        return store

    async def persistence_problems(self) -> list[str]:
        """Re-read the persistence settings of every node: a replica promoted later must keep nothing either."""
        problems: list[str] = []
        kwargs: dict[str, Any] = {"password": self.password, "decode_responses": True, **TIMEOUTS}
        for where in await self.members():
            host, port = parse_sentinel(where)
            client = aioredis.Redis(host=host, port=port, **kwargs)
            try:
                found = await persistence_problems_of(client, where)
            finally:
                await client.aclose()
            problems += [p.replace("state.url:", "state.cluster:", 1) for p in found]
        return problems

    async def members(self) -> list[str]:
        """Every node the cluster lists (CLUSTER NODES), replicas still syncing included, failed ones not."""
        listed: dict[str, Any] = await self.cluster.cluster_nodes()
        return sorted(addr for addr, info in listed.items() if not {"fail", "noaddr"} & set(info["flags"].split(",")))

    async def close(self) -> None:
        await self.cluster.aclose()
