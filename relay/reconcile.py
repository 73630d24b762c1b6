"""Reconciliation for sources that do not redeliver for long (Twilio retries a webhook once, within seconds):
after a failed delivery and at start-up, list the platform's own message log since the oldest unacknowledged
message and deliver what the dedup claims do not show as delivered. The relay stores nothing: the marker is a
timestamp in the state store, the messages come from the platform."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from relay.connector import Result
from relay.metrics import Metrics
from relay.model import Message
from relay.state import StateStore

log = logging.getLogger("relay.reconcile")


@dataclass(frozen=True, slots=True)
class Logged:
    """A message as the platform's log holds it, with when the platform received it (epoch seconds)."""

    at: float
    message: Message


Lister = Callable[[float], AsyncIterator[Logged]]


@dataclass(frozen=True, slots=True)
class Schedule:
    """How far back to look and how often: `horizon` bounds every pass; `startup` is how far back the first
    pass looks when no failure is on record; `delay` is the wait after a failure (the source's own retry
    goes first), doubling up to `longest` while deliveries keep failing; `margin` covers clock skew."""

    horizon: float = 24 * 3600.0
    startup: float = 900.0
    delay: float = 20.0
    longest: float = 300.0
    margin: float = 60.0
    max_items: int = 10_000


class Reconciler:
    """One connector instance's reconciliation loop; `failed()` records an unacknowledged message."""

    def __init__(
        self,
        instance: str,
        key: str,
        store: StateStore,
        deliver: Callable[[Message], Awaitable[Result]],
        lister: Lister,
        schedule: Schedule,
        metrics: Metrics,
    ) -> None:
        self.instance = instance
        self.key = key
        self.store = store
        self.deliver = deliver
        self.lister = lister
        self.schedule = schedule
        self.metrics = metrics
        self.clock: Callable[[], float] = time.time
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self.passes = 0
        self._wake = asyncio.Event()
        self._holder = secrets.token_hex(8)

    async def _read(self) -> tuple[str | None, float | None]:
        raw = await self.store.get(self.key)
        try:
            return raw, float(raw.partition(":")[0]) if raw is not None else None
        except ValueError:
            return raw, None

    async def marker(self) -> float | None:
        """When the oldest unacknowledged message arrived (minus the margin), if any is on record."""
        return (await self._read())[1]

    async def failed(self, at: float | None = None) -> None:
        """Note that a message received at `at` (default: now) was not acknowledged, and wake the loop. The
        record is rewritten each time (a pass running meanwhile then leaves it for the next pass)."""
        when = (self.clock() if at is None else at) - self.schedule.margin
        try:
            current = await self.marker()
            earliest = when if current is None else min(current, when)
            await self.store.set(self.key, f"{earliest!r}:{secrets.token_hex(4)}", self.schedule.horizon)
        except Exception as exc:
            log.error("reconcile marker not written", extra={"connector": self.instance, "error": type(exc).__name__})
        self._wake.set()

    async def run(self) -> None:
        """The loop: a pass soon after start-up (once the source's own retries of the last moments had their
        turn), then one after each failure (and again, backing off, until one delivers everything since the
        marker)."""
        await self.sleep(self.schedule.delay)
        pending = not await self.reconcile(startup=True)
        pause = self.schedule.delay
        while True:
            if pending:
                await self.sleep(pause)
                pause = min(self.schedule.longest, max(pause, 1.0) * 2)
            else:
                await self._wake.wait()
                self._wake.clear()
                pause = self.schedule.delay
                await self.sleep(pause)
            pending = not await self.reconcile()
            if not pending:
                pause = self.schedule.delay

    async def reconcile(self, startup: bool = False) -> bool:
        """One pass; True when everything since the marker is acknowledged (the marker is then cleared,
        unless a failure was recorded while the pass ran)."""
        lease = self.key + ":lease"
        try:
            if not await self.store.lease(lease, self._holder, 60.0):
                return False
        except Exception as exc:
            log.warning("reconcile skipped", extra={"connector": self.instance, "error": type(exc).__name__})
            return False
        try:
            raw, marker = await self._read()
            if marker is None and not startup:
                return True
            self.passes += 1
            now = self.clock()
            floor = max(now - self.schedule.horizon, marker if marker is not None else now - self.schedule.startup)
            done = await self._deliver_since(floor)
            if done and raw is not None and await self.store.get(self.key) == raw:
                await self.store.delete(self.key)
            return done
        except Exception as exc:
            log.warning("reconcile pass failed", extra={"connector": self.instance, "error": type(exc).__name__})
            return False
        finally:
            try:
                await self.store.delete(lease)
            except Exception as exc:
                log.warning("reconcile lease kept", extra={"connector": self.instance, "error": type(exc).__name__})

    async def _deliver_since(self, floor: float) -> bool:
        found: list[Logged] = []
        async for item in self.lister(floor):
            if item.at >= floor:
                found.append(item)
            if len(found) >= self.schedule.max_items:
                log.warning("reconcile window truncated", extra={"connector": self.instance, "count": len(found)})
                break
        found.sort(key=lambda item: item.at)
        for item in found:
            result = await self.deliver(item.message)
            outcome = result.outcome.value
            self.metrics.inc("relay_reconciled_total", connector=self.instance, outcome=outcome)
            if not result.acknowledged:
                await self.failed(item.at + self.schedule.margin)
                return False
        if found:
            log.info("reconciled", extra={"connector": self.instance, "count": len(found)})
        return True
