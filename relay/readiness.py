"""Readiness checks: can this replica deliver right now?"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from relay.state import StateStore


class StateProbe:
    """Whether the state store answers a ping within `timeout` seconds. The answer is kept for `ttl`
    seconds, so however often /readyz is polled the store sees at most one ping a second per replica."""

    def __init__(self, store: StateStore, timeout: float = 0.5, ttl: float = 1.0) -> None:
        self._ping: Callable[[], Awaitable[Any]] | None = getattr(store, "ping", None)
        self.timeout = timeout
        self.ttl = ttl
        self._problem: str | None = None
        self._until = 0.0
        self._lock = asyncio.Lock()

    async def problem(self) -> str | None:
        """None when the store is reachable (or in memory), else a short reason without addresses."""
        if self._ping is None or time.monotonic() < self._until:
            return self._problem
        async with self._lock:
            if time.monotonic() >= self._until:
                self._problem = await self._check(self._ping)
                self._until = time.monotonic() + self.ttl
        return self._problem

    async def _check(self, ping: Callable[[], Awaitable[Any]]) -> str | None:
        try:
            async with asyncio.timeout(self.timeout):
                await ping()
        except Exception as exc:
            return f"state store unreachable ({type(exc).__name__})"
        return None
