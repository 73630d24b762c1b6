"""Short-lived metadata (dedup claims, rate buckets, id maps, leases): never message content."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol


class StateStore(Protocol):
    """Shared ephemeral state; keys are keyed digests or counters, values are ids or states."""

    async def claim(self, key: str, value: str, ttl: float) -> bool:
        """Set `key` only if absent; True if this call set it."""
        ...

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, ttl: float) -> None: ...

    async def set_many(self, items: Sequence[tuple[str, str, float]]) -> None:
        """Set several (key, value, ttl) entries in one round trip."""
        ...

    async def delete(self, key: str) -> None: ...

    async def reserve(self, bucket: str, interval: float, burst: int) -> float:
        """Reserve one send in a GCRA bucket; return how long to wait before sending."""
        ...

    async def block(self, bucket: str, seconds: float) -> None:
        """Hold a bucket closed for `seconds` (a platform's retry-after)."""
        ...

    async def lease(self, key: str, holder: str, ttl: float) -> bool:
        """Take or renew a lease; True if `holder` holds it now."""
        ...

    async def close(self) -> None: ...


class MemoryStateStore:
    """In-process state for a single replica; bounded, entries expire."""

    def __init__(self, max_keys: int = 200_000) -> None:
        self._data: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._tat: dict[str, float] = {}
        self._blocked: dict[str, float] = {}
        self.max_keys = max_keys

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] < time.monotonic():
            del self._data[key]
            return None
        return item[0]

    def _put(self, key: str, value: str, ttl: float) -> None:
        self._data[key] = (value, time.monotonic() + ttl)
        self._data.move_to_end(key)
        while len(self._data) > self.max_keys:
            self._data.popitem(last=False)

    async def claim(self, key: str, value: str, ttl: float) -> bool:
        if self._live(key) is not None:
            return False
        self._put(key, value, ttl)
        return True

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(self, key: str, value: str, ttl: float) -> None:
        self._put(key, value, ttl)

    async def set_many(self, items: Sequence[tuple[str, str, float]]) -> None:
        for key, value, ttl in items:
            self._put(key, value, ttl)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def reserve(self, bucket: str, interval: float, burst: int) -> float:
        now = time.monotonic()
        tolerance = interval * (burst - 1)
        tat = max(self._tat.get(bucket, now), now)
        wait = max(0.0, tat - tolerance - now)
        blocked = self._blocked.get(bucket, 0.0)
        if blocked > now:
            wait = max(wait, blocked - now)
            tat = max(tat, blocked)
        self._tat[bucket] = tat + interval
        if len(self._tat) > self.max_keys:
            self._prune_buckets(now)
        return wait

    async def block(self, bucket: str, seconds: float) -> None:
        until = time.monotonic() + seconds
        self._blocked[bucket] = max(self._blocked.get(bucket, 0.0), until)

    def _prune_buckets(self, now: float) -> None:
        for key in [k for k, tat in self._tat.items() if tat < now]:
            del self._tat[key]
        for key in [k for k, until in self._blocked.items() if until < now]:
            del self._blocked[key]

    async def lease(self, key: str, holder: str, ttl: float) -> bool:
        current = self._live(key)
        if current is None or current == holder:
            self._put(key, holder, ttl)
            return True
        return False

    async def close(self) -> None:
        self._data.clear()
        self._tat.clear()
        self._blocked.clear()
