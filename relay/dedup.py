"""Single-flight deduplication claimed on arrival, shared through the StateStore."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from relay.connector import Outcome, Result
from relay.reasons import Reason
from relay.state import StateStore

INFLIGHT, DONE = "inflight", "done"


class Dedup:
    """A redelivery of a message still in flight waits for the first attempt; one already
    delivered is answered as a duplicate. Keys are keyed digests, never content."""

    def __init__(self, store: StateStore, done_ttl: float, claim_ttl: float = 10.0) -> None:
        self.store = store
        self.done_ttl = done_ttl
        self.claim_ttl = claim_ttl
        self._local: dict[str, asyncio.Future[Result] | None] = {}
        self._renewer: asyncio.Task[None] | None = None

    async def begin(self, key: str, timeout: float) -> Result | None:
        """None if the caller now owns `key`; otherwise the earlier attempt's result (or RETRY).
        An owner's claim is renewed while it works and expires `claim_ttl` seconds after it stops,
        so a replica that dies mid-delivery blocks redeliveries only briefly."""
        end = time.monotonic() + timeout
        while True:
            if key in self._local:
                return await self._wait_for_owner(key, end)
            if await self.store.claim(key, INFLIGHT, self.claim_ttl):
                self._local[key] = None
                if self._renewer is None or self._renewer.done():
                    self._renewer = asyncio.create_task(self._renew())
                return None
            state = await self.store.get(key)
            if state == DONE:
                return Result(Outcome.DUPLICATE, Reason.ALREADY_DELIVERED)
            if state is None:
                continue
            if time.monotonic() >= end:
                return Result(Outcome.RETRY, Reason.EARLIER_IN_FLIGHT, retry_after=5)
            await asyncio.sleep(min(0.05, max(0.0, end - time.monotonic())))

    async def _wait_for_owner(self, key: str, end: float) -> Result:
        """Wait for this process's own attempt at `key` (its future is made for the first waiter)."""
        local = self._local[key]
        if local is None:
            local = self._local[key] = asyncio.get_running_loop().create_future()
        try:
            earlier = await asyncio.wait_for(asyncio.shield(local), max(0.0, end - time.monotonic()))
        except TimeoutError:
            return Result(Outcome.RETRY, Reason.EARLIER_IN_FLIGHT, retry_after=5)
        return _as_duplicate(earlier)

    async def finish(self, key: str, result: Result, also: Sequence[tuple[str, str, float]] = ()) -> None:
        """Record the owner's result: remembered if the source may forget it, released otherwise.
        `also` (key, value, ttl) entries are written with the record, in the same round trip."""
        try:
            if result.acknowledged:
                await self.store.set_many([(key, DONE, self.done_ttl), *also])
            else:
                await self.store.delete(key)
        finally:
            fut = self._local.pop(key, None)
            if fut is not None and not fut.done():
                fut.set_result(result)

    async def _renew(self) -> None:
        """Keep this process's claims alive while it works on them; stop when it owns none."""
        while self._local:
            await asyncio.sleep(self.claim_ttl / 3)
            for key in list(self._local):
                try:
                    await self.store.lease(key, INFLIGHT, self.claim_ttl)
                except Exception:
                    return

    def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()


def _as_duplicate(earlier: Result) -> Result:
    if earlier.outcome is Outcome.DELIVERED:
        return Result(Outcome.DUPLICATE, Reason.ALREADY_DELIVERED, earlier.platform_id)
    return earlier
