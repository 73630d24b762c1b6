"""Single-flight deduplication claimed on arrival, shared through the StateStore."""

from __future__ import annotations

import asyncio
import time

from relay.connector import Outcome, Result
from relay.state import StateStore

INFLIGHT, DONE = "inflight", "done"


class Dedup:
    """A redelivery of a message still in flight waits for the first attempt; one already
    delivered is answered as a duplicate. Keys are keyed digests, never content."""

    def __init__(self, store: StateStore, done_ttl: float, inflight_grace: float = 30.0) -> None:
        self.store = store
        self.done_ttl = done_ttl
        self.inflight_grace = inflight_grace
        self._local: dict[str, asyncio.Future[Result]] = {}

    async def begin(self, key: str, timeout: float) -> Result | None:
        """None if the caller now owns `key`; otherwise the earlier attempt's result (or RETRY).
        A claim outlives the caller's deadline by `inflight_grace` (one last send) and then expires,
        so a replica that dies mid-delivery blocks redeliveries only briefly."""
        end = time.monotonic() + timeout
        while True:
            local = self._local.get(key)
            if local is not None:
                try:
                    earlier = await asyncio.wait_for(asyncio.shield(local), max(0.0, end - time.monotonic()))
                except TimeoutError:
                    return Result(Outcome.RETRY, "earlier_attempt_in_flight", retry_after=5)
                return _as_duplicate(earlier)
            if await self.store.claim(key, INFLIGHT, timeout + self.inflight_grace):
                self._local[key] = asyncio.get_running_loop().create_future()
                return None
            state = await self.store.get(key)
            if state == DONE:
                return Result(Outcome.DUPLICATE, "already_delivered")
            if state is None:
                continue
            if time.monotonic() >= end:
                return Result(Outcome.RETRY, "earlier_attempt_in_flight", retry_after=5)
            await asyncio.sleep(min(0.05, max(0.0, end - time.monotonic())))

    async def finish(self, key: str, result: Result) -> None:
        """Record the owner's result: remembered if the source may forget it, released otherwise."""
        try:
            if result.acknowledged:
                await self.store.set(key, DONE, self.done_ttl)
            else:
                await self.store.delete(key)
        finally:
            fut = self._local.pop(key, None)
            if fut is not None and not fut.done():
                fut.set_result(result)


def _as_duplicate(earlier: Result) -> Result:
    if earlier.outcome is Outcome.DELIVERED:
        return Result(Outcome.DUPLICATE, "already_delivered", earlier.platform_id)
    return earlier
