"""Per-destination rate limits in the state store: wait for a token before a send, block after a Retry-After."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from relay.connector import Connector, Limit
from relay.errors import DeliveryError
from relay.metrics import Metrics
from relay.model import Address
from relay.reasons import Reason
from relay.seal import Sealer
from relay.state import StateStore


class RateLimits:
    """The token buckets of each destination (per connector or per chat), keyed by digest in the state store."""

    def __init__(self, store: StateStore, sealer: Sealer, metrics: Metrics) -> None:
        self.store = store
        self.sealer = sealer
        self.metrics = metrics

    def bucket(self, dest: Connector, target: Address, limit: Limit) -> str:
        scope = f"{dest.name}:{target.chat}" if limit.scope == "chat" else dest.name
        return "r:" + self.sealer.digest(f"{scope}:{limit.rate}/{limit.per}")

    async def wait(self, dest: Connector, target: Address, limits: Sequence[Limit], end: float) -> None:
        """Take a token from every bucket, waiting if one is empty; RATE_LIMITED when the wait would pass `end`."""
        wait = 0.0
        for limit in limits:
            wait = max(
                wait, await self.store.reserve(self.bucket(dest, target, limit), limit.per / limit.rate, limit.burst)
            )
        if wait <= 0:
            return
        self.metrics.inc("relay_ratelimit_waits_total", connector=dest.name)
        if time.monotonic() + wait >= end:
            raise DeliveryError(Reason.RATE_LIMITED, retry_after=wait)
        await asyncio.sleep(wait)

    async def block(self, dest: Connector, target: Address, limits: Sequence[Limit], exc: DeliveryError) -> None:
        """Empty the buckets the platform's Retry-After applies to (its scope) for that long."""
        assert exc.retry_after is not None
        for limit in limits:
            if exc.scope is None or limit.scope == exc.scope:
                await self.store.block(self.bucket(dest, target, limit), exc.retry_after)
