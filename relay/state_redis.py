"""A StateStore in Redis, shared by replicas; refuses a Redis that writes to disk.

Times: TTLs are Redis key expiries, and the rate-limit and lease scripts read the server clock
(`TIME` inside Lua), so replicas with skewed clocks still agree. Every key carries the workspace
prefix and an expiry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError, ResponseError

from relay.errors import ConfigError

log = logging.getLogger("relay.state")

_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('HGET', KEYS[1], 'tat') or now)
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
local blk = tonumber(redis.call('HGET', KEYS[1], 'blk') or 0)
if blk > now then
  if blk - now > wait then wait = blk - now end
  if blk > tat then tat = blk end
end
tat = tat + interval
redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', tat))
redis.call('PEXPIRE', KEYS[1], math.ceil((math.max(tat, blk) - now) / 1000) + 1000)
return math.floor(wait)
"""

_BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local blk = math.max(tonumber(redis.call('HGET', KEYS[1], 'blk') or 0), now + tonumber(ARGV[1]))
local tat = tonumber(redis.call('HGET', KEYS[1], 'tat') or 0)
redis.call('HSET', KEYS[1], 'blk', string.format('%.0f', blk))
redis.call('PEXPIRE', KEYS[1], math.ceil((math.max(tat, blk) - now) / 1000) + 1000)
return 1
"""

_LEASE = """
local current = redis.call('GET', KEYS[1])
if (not current) or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

_FIX = "start it with --save '' --appendonly no or use state.backend = memory"


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _us(seconds: float) -> int:
    return max(0, round(seconds * 1_000_000))


def describe(url: str) -> str:
    """Where a Redis URL points (host:port/db or socket path), without credentials."""
    try:
        parts = urlsplit(url)
        if parts.scheme == "unix":
            return f"unix:{parts.path}"
        host = parts.hostname or "localhost"
        port = parts.port or 6379
    except ValueError:
        return "<unparsable URL>"
    db = parts.path.strip("/")
    return f"{host}:{port}" + (f"/{db}" if db else "")


def _masker(url: str) -> Callable[[str], str]:
    try:
        parts = urlsplit(url)
        secrets = [parts.password] if parts.password and len(parts.password) >= 3 else []
    except ValueError:
        secrets = []
    secrets += [unquote(s) for s in secrets]
    secrets.append(url)

    def mask(text: str) -> str:
        for secret in sorted(set(secrets), key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    return mask


class RedisStateStore:
    """Dedup claims, rate buckets, id maps and leases in Redis under `prefix`; every key expires."""

    def __init__(self, client: aioredis.Redis | RedisCluster, prefix: str, assume_no_persistence: bool = False) -> None:
        self.redis = client
        self.prefix = prefix
        self.assume_no_persistence = assume_no_persistence
        self._gcra = client.register_script(_GCRA)
        self._block = client.register_script(_BLOCK)
        self._lease = client.register_script(_LEASE)

    @classmethod
    async def connect(cls, url: str, prefix: str, assume_no_persistence: bool = False) -> RedisStateStore:
        """Connect, check that the server keeps nothing on disk, and return the store; ConfigError otherwise.
        Without CONFIG GET that cannot be proven, and is refused unless `assume_no_persistence`."""
        where, mask = describe(url), _masker(url)
        try:
            client = aioredis.Redis.from_url(
                url, decode_responses=True, socket_connect_timeout=5, socket_timeout=10, health_check_interval=30
            )
        except (ValueError, RedisError) as exc:
            raise ConfigError([f"state.url: not a usable Redis URL ({mask(str(exc)) or type(exc).__name__})"]) from None
        try:
            await client.ping()
            problems = await _persistence_problems(client, where, assume_no_persistence)
        except RedisError as exc:
            await client.aclose()
            detail = mask(str(exc)).rstrip(". ") or type(exc).__name__
            raise ConfigError(
                [f"state.url: cannot use Redis at {where}: {detail}; check the URL, password and that Redis runs"]
            ) from None
        except BaseException:
            await client.aclose()
            raise
        if problems:
            await client.aclose()
            raise ConfigError(problems)
        log.info("state store: redis at %s", where)
        return cls(client, prefix, assume_no_persistence)

    def _k(self, key: str) -> str:
        return self.prefix + key

    async def claim(self, key: str, value: str, ttl: float) -> bool:
        return bool(await self.redis.set(self._k(key), value, px=_ms(ttl), nx=True))

    async def get(self, key: str) -> str | None:
        value = await self.redis.get(self._k(key))
        return None if value is None else str(value)

    async def set(self, key: str, value: str, ttl: float) -> None:
        await self.redis.set(self._k(key), value, px=_ms(ttl))

    async def set_many(self, items: Sequence[tuple[str, str, float]]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, value, ttl in items:
                pipe.set(self._k(key), value, px=_ms(ttl))
            await pipe.execute()

    async def delete(self, key: str) -> None:
        await self.redis.delete(self._k(key))

    async def reserve(self, bucket: str, interval: float, burst: int) -> float:
        wait = await self._gcra(keys=[self._k("rl:" + bucket)], args=[_us(interval), max(1, burst)])
        return int(wait) / 1_000_000

    async def block(self, bucket: str, seconds: float) -> None:
        await self._block(keys=[self._k("rl:" + bucket)], args=[_us(seconds)])

    async def lease(self, key: str, holder: str, ttl: float) -> bool:
        return bool(await self._lease(keys=[self._k(key)], args=[holder, _ms(ttl)]))

    async def ping(self) -> None:
        """One round trip, for readiness."""
        await self.redis.ping()

    async def persistence_problems(self) -> list[str]:
        """Re-read the server's persistence settings: someone may switch RDB or AOF on later."""
        assert isinstance(self.redis, aioredis.Redis), "a cluster store checks each node"
        return await _persistence_problems(self.redis, "the state store", self.assume_no_persistence)

    async def close(self) -> None:
        await self.redis.aclose()


async def _persistence_problems(client: aioredis.Redis, where: str, assume_off: bool = False) -> list[str]:
    """Why this Redis would or might write state to disk (RDB snapshots, AOF); empty when it keeps nothing."""
    try:
        save = str((await client.config_get("save")).get("save", "")).strip()
        aof = str((await client.config_get("appendonly")).get("appendonly", "no")).strip().lower()
    except ResponseError:
        if not assume_off:
            return [
                f"state.url: cannot prove that Redis at {where} keeps nothing on disk: CONFIG GET is refused, and "
                "INFO cannot show an RDB save schedule that has not fired yet; allow CONFIG GET for the relay's "
                "user, or, only if you know it runs with --save '' --appendonly no, set "
                "state.assume_no_persistence = true"
            ]
        return await _persistence_from_info(client, where)
    problems = []
    if save:
        problems.append(f"state.url: Redis at {where} has RDB snapshots on (save {save}); {_FIX}")
    if aof == "yes":
        problems.append(f"state.url: Redis at {where} has AOF on (appendonly yes); {_FIX}")
    return problems


async def _persistence_from_info(client: aioredis.Redis, where: str) -> list[str]:
    """CONFIG is disabled (managed Redis): judge from INFO persistence."""
    try:
        info = await client.info("persistence")
    except ResponseError:
        return [
            f"state.url: cannot read the persistence settings of Redis at {where} (CONFIG and INFO refused); "
            f"allow CONFIG GET or INFO for the relay's user, or use state.backend = memory"
        ]
    problems = []
    snapshots = (
        _num(info, "rdb_saves", 0) > 0
        or _num(info, "rdb_bgsave_in_progress", 0) == 1
        or _num(info, "rdb_last_bgsave_time_sec", -1) >= 0
    )
    if snapshots:
        problems.append(f"state.url: Redis at {where} has RDB snapshots on (INFO shows snapshots taken); {_FIX}")
    if _num(info, "aof_enabled", 0) == 1:
        problems.append(f"state.url: Redis at {where} has AOF on (INFO aof_enabled:1); {_FIX}")
    if not problems:
        log.warning(
            "redis CONFIG is disabled at %s; state.assume_no_persistence is set, so persistence is judged from "
            "INFO only (no snapshot taken yet, AOF off)",
            where,
        )
    return problems


def _num(info: dict[str, Any], field: str, default: int) -> int:
    try:
        return int(info.get(field, default))
    except (TypeError, ValueError):
        return default
