"""The delivery engine: dedup, route, degrade, rate-limit, send with bounded retries, acknowledge."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from relay import notices
from relay.connector import Connector, ConnectorKind, Outcome, Result
from relay.dedup import Dedup
from relay.degrade import degrade
from relay.errors import DeliveryError, MediaError
from relay.guard import Guard
from relay.http import SHED
from relay.idmap import IdMap
from relay.media import MediaService
from relay.metrics import Metrics
from relay.model import Address, Kind, Message
from relay.ratelimit import RateLimits
from relay.reasons import Reason
from relay.router import Router
from relay.seal import Sealer
from relay.state import StateStore
from relay.tally import Tally
from relay.urlfiles import fetch_named

log = logging.getLogger("relay.engine")

_INTERRUPTED = Result(Outcome.RETRY, Reason.INTERNAL_ERROR)
_DEADLINE = Result(Outcome.RETRY, Reason.DEADLINE_EXCEEDED)


def _answer(answer: asyncio.Future[Result], result: Result) -> None:
    if not answer.done():
        answer.set_result(result)


@dataclass(frozen=True, slots=True)
class EngineSettings:
    max_inflight: int = 1024
    max_inflight_per_destination: int = 512
    dedup_ttl: float = 7 * 24 * 3600.0
    claim_ttl: float = 10.0
    id_map_ttl: float = 7 * 24 * 3600.0
    backoff_base: float = 0.2
    backoff_max: float = 5.0
    deadline_margin: float = 0.25


class Engine:
    """Carries messages from a source connector to their destination; never stores content."""

    def __init__(
        self,
        connectors: Mapping[str, Connector],
        router: Router,
        store: StateStore,
        sealer: Sealer,
        media: MediaService,
        metrics: Metrics,
        settings: EngineSettings = EngineSettings(),
        guard: Guard | None = None,
    ) -> None:
        self.connectors = connectors
        self.router = router
        self.store = store
        self.sealer = sealer
        self.media = media
        self.metrics = metrics
        self.settings = settings
        self.guard = guard
        self.dedup = Dedup(store, settings.dedup_ttl, settings.claim_ttl)
        self.limits = RateLimits(store, sealer, metrics)
        self.tally = Tally(metrics, router, sealer)
        self.ids = IdMap(store, sealer, settings.id_map_ttl)
        self.accepting = True
        self.hold: Reason | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._per_dest: dict[str, int] = {}
        self._deadlines: dict[str, float] = {}
        self._crm_targets: dict[str, Address] = {}
        self.traced: Callable[[Connector, Message, int], Awaitable[str]] | None = None
        metrics.gauges["relay_inflight"] = lambda: self.inflight

    @property
    def inflight(self) -> int:
        return len(self._tasks)

    def shed_reason(self, origin: str, destination: str | None = None) -> Reason | None:
        """Why a new message from `origin` would be refused right now, or None: checked before its
        body is read (when only a messenger's destination, its CRM, is known), so shedding costs little."""
        if not self.accepting:
            return Reason.SHUTTING_DOWN
        if self.hold is not None:
            return self.hold
        if len(self._tasks) >= self.settings.max_inflight:
            return Reason.OVERLOADED
        dest = self.router.target(origin) if destination is None else destination
        if self._per_dest.get(dest, 0) >= self.settings.max_inflight_per_destination:
            return Reason.DESTINATION_BUSY
        return None

    def deadline_for(self, instance: str) -> float:
        found = self._deadlines.get(instance)
        if found is None:
            conn = self.connectors.get(instance)
            base = conn.capabilities.ack_deadline if conn else 10.0
            found = self._deadlines[instance] = max(0.05, base - self.settings.deadline_margin)
        return found

    async def deliver(self, message: Message, deadline: float | None = None) -> Result:
        """Hand a message over; returns once the destination accepted it, or when the source's
        deadline passes (RETRY: the source should redeliver; the attempt goes on in the background)."""
        origin = message.origin
        budget = deadline if deadline is not None else self.deadline_for(origin)
        dest = self.router.target(origin, message.conversation.instance)
        shed = self.shed_reason(origin, dest)
        if shed is not None:
            self.metrics.inc("relay_rejected_total", connector=origin, reason=shed)
            return SHED[shed]
        key = "d:" + self.sealer.digest(message.dedup_id)
        try:
            earlier = await self.dedup.begin(key, budget)
        except Exception as exc:
            log.error("state store unavailable", extra={"connector": origin, "error": type(exc).__name__})
            self.metrics.inc("relay_rejected_total", connector=origin, reason=Reason.STATE_UNAVAILABLE.label)
            return Result(Outcome.RETRY, Reason.STATE_UNAVAILABLE, retry_after=5)
        if earlier is not None:
            if earlier.outcome is Outcome.DUPLICATE:
                self.metrics.inc("relay_dedup_hits_total", connector=origin, direction=self.tally.direction(origin))
            return earlier
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Result] = loop.create_future()
        self._per_dest[dest] = self._per_dest.get(dest, 0) + 1
        task = loop.create_task(self._run(message, key, dest, started + budget, started, answer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        timer = loop.call_at(loop.time() + budget, _answer, answer, _DEADLINE)
        try:
            result = await answer
        finally:
            timer.cancel()
        if result is not _DEADLINE:
            return result
        direction = self.tally.direction(origin)
        self.metrics.inc("relay_failures_total", connector=origin, direction=direction, reason="deadline")
        return Result(Outcome.RETRY, Reason.DEADLINE_EXCEEDED, retry_after=max(1.0, budget))

    async def _run(
        self, message: Message, key: str, dest: str, end: float, started: float, answer: asyncio.Future[Result]
    ) -> None:
        """One delivery attempt, counted against `dest` from admission to its end; its result answers
        the source, unless the source's deadline passed first."""
        result = _INTERRUPTED
        ids: list[tuple[str, str, float]] = []
        try:
            result = await self._route_and_send(message, end, ids)
        except DeliveryError as exc:
            outcome = Outcome.RETRY if exc.retryable else Outcome.FAILED
            result = Result(outcome, exc.reason, retry_after=exc.retry_after, detail=exc.detail)
        except Exception as exc:
            log.error("delivery crashed", extra={"msg_id": self.tally.log_id(message), "error": type(exc).__name__})
            result = Result(Outcome.RETRY, Reason.INTERNAL_ERROR, retry_after=5)
        finally:
            self._per_dest[dest] -= 1
            try:
                await self.dedup.finish(key, result, ids)
            except Exception as exc:
                log.error("state store unavailable", extra={"connector": message.origin, "error": type(exc).__name__})
            told = not answer.done()
            _answer(answer, result)
        self.tally.record(message, result, started)
        notify = message.kind not in (Kind.NOTICE, Kind.STATUS) and not self._answered(told, message.origin)
        if result.outcome is Outcome.FAILED and notify:
            reason = result.reason or Reason.INTERNAL_ERROR
            self._spawn(
                notices.notify(self.connectors, self.guard, self.metrics, message, reason, self.tally.log_id(message))
            )

    def _answered(self, told: bool, origin: str) -> bool:
        """Whether the source already learnt the failure from its answer and wants no status event too."""
        conn = self.connectors.get(origin)
        return told and conn is not None and conn.capabilities.failures_in_answer

    async def _route_and_send(self, message: Message, end: float, ids: list[tuple[str, str, float]]) -> Result:
        """Send to the destination; `ids` gets the id-map entries that later replies and edits need."""
        dest_name = self.router.destination(message)
        dest = self.connectors[dest_name]
        if self.guard is not None:
            admitted = await self.guard.admit(message, dest_name)
            if isinstance(admitted, Result):
                return admitted
            message = admitted
        if message.ref is not None:
            message = await self.ids.translate(message, dest_name, self.router.kinds.get(dest_name), end)
        if message.attachments and dest.manifest.kind is ConnectorKind.MESSENGER:
            message = await fetch_named(self.media, message, dest.capabilities)
        parts = degrade(message, dest.capabilities, self.media.link)
        first: str | None = None
        for index, part in enumerate(parts):
            part_id = f"{message.dedup_id}#{index}" if len(parts) > 1 else None
            pid = await self._send_part(dest, part, part_id, end)
            first = first or pid
        if first is not None and message.kind not in (Kind.STATUS, Kind.NOTICE):
            ids += self.ids.entries(message.origin, message.id, dest_name, first)
        to_crm = dest.manifest.kind is ConnectorKind.CRM
        return Result(Outcome.DELIVERED, platform_id=None if to_crm else first)

    async def _send_part(self, dest: Connector, part: Message, part_id: str | None, end: float) -> str:
        """Send one part; parts of a split message already sent in an earlier attempt are skipped."""
        sent_key = "p:" + self.sealer.digest(part_id) if part_id else None
        already = await self.store.get(sent_key) if sent_key else None
        if already is not None:
            return already
        to_messenger = dest.manifest.kind is ConnectorKind.MESSENGER
        if to_messenger and self.guard is not None:
            await self.guard.check(dest, part.conversation)
        target = part.conversation if to_messenger else self._crm_target(dest.name)
        limits = dest.limits(target)
        attempt = 0
        while True:
            if limits:
                await self.limits.wait(dest, target, limits, end)
            try:
                pid = await dest.send(part) if self.traced is None else await self.traced(dest, part, attempt)
            except DeliveryError as exc:
                if exc.retry_after:
                    await self.limits.block(dest, target, limits, exc)
                attempt += 1
                pause = exc.retry_after or min(self.settings.backoff_max, self.settings.backoff_base * 2**attempt)
                pause *= random.uniform(1.0, 1.25)
                if not exc.retryable or time.monotonic() + pause >= end:
                    raise
                await asyncio.sleep(pause)
                continue
            except MediaError as exc:
                raise DeliveryError(exc.failure) from None
            if sent_key:
                await self.store.set(sent_key, pid, self.settings.dedup_ttl)
            return pid

    def _crm_target(self, name: str) -> Address:
        found = self._crm_targets.get(name)
        if found is None:
            found = self._crm_targets[name] = Address(name, "")
        return found

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def pending(self) -> set[asyncio.Task[Any]]:
        """The deliveries in flight now: a connector being replaced is closed only once these end."""
        return set(self._tasks)

    def forget(self, instance: str) -> None:
        """Drop what was derived from an instance's old settings (its deadline, its CRM address)."""
        self._deadlines.pop(instance, None)
        self._crm_targets.pop(instance, None)

    async def drain(self, grace: float) -> int:
        """Stop accepting and wait up to `grace` seconds for in-flight work; return what was left."""
        self.accepting = False
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        left = [t for t in self._tasks if not t.done()]
        for task in left:
            task.cancel()
        self.dedup.close()
        return len(left)
