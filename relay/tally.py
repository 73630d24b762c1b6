"""Each delivery's outcome counted and logged: prepared metric label sets, a content-free log line."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from relay.connector import ConnectorKind, Outcome, Result
from relay.metrics import Labels, Metrics
from relay.model import Kind, Message
from relay.router import Router
from relay.seal import Sealer

log = logging.getLogger("relay.engine")


@dataclass(frozen=True, slots=True)
class _Series:
    """Prepared metric label sets for one (origin, kind, outcome)."""

    messages: Labels
    latency: Labels


class Tally:
    """Counts outcomes per origin, kind and direction; logs failures at info and deliveries at debug."""

    def __init__(self, metrics: Metrics, router: Router, sealer: Sealer) -> None:
        self.metrics = metrics
        self.router = router
        self.sealer = sealer
        self._series: dict[tuple[str, Kind, Outcome], _Series] = {}

    def log_id(self, message: Message) -> str:
        """A stable, keyed digest to correlate log lines: platform ids can embed phone numbers."""
        return self.sealer.digest(message.dedup_id)[:16]

    def direction(self, instance: str) -> str:
        kind = self.router.kinds.get(instance)
        return "inbound" if kind is ConnectorKind.MESSENGER else "outbound"

    def record(self, message: Message, result: Result, started: float) -> None:
        outcome = result.outcome
        series = self._series.get((message.origin, message.kind, outcome))
        if series is None:
            series = self._prepare(message.origin, message.kind, outcome)
        self.metrics.inc_key("relay_messages_total", series.messages)
        if outcome is Outcome.DELIVERED:
            self.metrics.observe_key(time.monotonic() - started, series.latency)
            level = logging.DEBUG
        else:
            direction = self.direction(message.origin)
            reason = result.reason.label if result.reason else "unknown"
            self.metrics.inc("relay_failures_total", connector=message.origin, direction=direction, reason=reason)
            level = logging.INFO
        if log.isEnabledFor(level):
            extra = {
                "msg_id": self.log_id(message),
                "connector": message.origin,
                "kind": message.kind.value,
                "reason": result.reason,
                "detail": result.detail,
                "latency_ms": round((time.monotonic() - started) * 1000, 1),
            }
            log.log(level, "message %s", outcome.value, extra=extra)

    def _prepare(self, origin: str, kind: Kind, outcome: Outcome) -> _Series:
        direction = self.direction(origin)
        series = _Series(
            messages=self.metrics.key(connector=origin, direction=direction, kind=kind.value, outcome=outcome.value),
            latency=self.metrics.key(connector=origin, direction=direction),
        )
        self._series[(origin, kind, outcome)] = series
        return series
