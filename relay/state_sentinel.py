"""Redis behind Sentinel: redis-py finds the primary through Sentinel and follows a failover; every node,
primary and replicas, must keep nothing on disk."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel
from redis.exceptions import RedisError

from relay.errors import ConfigError
from relay.sentinel_config import parse_sentinel
from relay.state_config import StateConfig
from relay.state_redis import RedisStateStore
from relay.state_redis import _persistence_problems as persistence_problems_of

log = logging.getLogger("relay.state")

TIMEOUTS = {"socket_connect_timeout": 2.0, "socket_timeout": 5.0}


class SentinelStateStore(RedisStateStore):
    """The Redis state store on the primary Sentinel names; persistence is checked on every node it knows."""

    def __init__(self, sentinel: Sentinel, service: str, node_kwargs: dict[str, Any], prefix: str) -> None:
        super().__init__(sentinel.master_for(service, redis_class=aioredis.Redis), prefix)
        self.sentinel = sentinel
        self.service = service
        self.node_kwargs = node_kwargs

    @classmethod
    async def connect_sentinel(
        cls,
        sentinels: Sequence[str],
        service: str,
        prefix: str,
        password: str | None = None,
        sentinel_password: str | None = None,
        db: int = 0,
    ) -> SentinelStateStore:
        """Ask Sentinel for the primary, check every node keeps nothing on disk; ConfigError otherwise."""
        node_kwargs: dict[str, Any] = {"password": password, "db": db, "decode_responses": True, **TIMEOUTS}
        sentinel = Sentinel(
            [parse_sentinel(s) for s in sentinels],
            sentinel_kwargs={"password": sentinel_password, **TIMEOUTS},
            health_check_interval=30,
            **node_kwargs,
        )
        store = cls(sentinel, service, node_kwargs, prefix)
        try:
            await store.redis.ping()
            problems = await store.persistence_problems()
        except RedisError as exc:
            await store.close()
            detail = type(exc).__name__ if password and password in str(exc) else (str(exc) or type(exc).__name__)
            raise ConfigError(
                [
                    f"state.sentinels: cannot reach the primary of {service!r}: {detail.rstrip('. ')}; "
                    "check the sentinel addresses, service_name, password and that Redis runs"
                ]
            ) from None
        except BaseException:
            await store.close()
            raise
        if problems:
            await store.close()
            raise ConfigError(problems)
        log.info("state store: redis through sentinel, service %s", service)
        return store

    async def nodes(self) -> list[tuple[str, int]]:
        """The primary and the replicas Sentinel knows for the service."""
        primary = await self.sentinel.discover_master(self.service)
        replicas = await self.sentinel.discover_slaves(self.service)
        return [primary, *replicas]

    async def persistence_problems(self) -> list[str]:
        """Re-read the persistence settings of every node: a replica promoted later must keep nothing either."""
        problems: list[str] = []
        for host, port in await self.nodes():
            client = aioredis.Redis(host=host, port=port, **self.node_kwargs)
            try:
                found = await persistence_problems_of(client, f"{host}:{port}")
            finally:
                await client.aclose()
            problems += [p.replace("state.url:", "state.sentinels:", 1) for p in found]
        return problems

    async def close(self) -> None:
        await self.redis.aclose()
        for node in self.sentinel.sentinels:
            await node.aclose()


async def connect_from(cfg: StateConfig, prefix: str) -> SentinelStateStore:
    """The Sentinel store `state` configures."""
    assert cfg.service_name is not None, "validated by StateConfig"
    return await SentinelStateStore.connect_sentinel(
        cfg.sentinels,
        cfg.service_name,
        prefix,
        cfg.password.reveal() if cfg.password else None,
        cfg.sentinel_password.reveal() if cfg.sentinel_password else None,
        cfg.db,
    )
