"""Delivery reports that arrive out of order: one is passed on only when it says more than the last one did."""

from __future__ import annotations

from relay.connector import Inbound, Result
from relay.model import Message
from relay.seal import Sealer
from relay.state import StateStore

RANK_TTL = 7 * 24 * 3600.0


class Ranks:
    """The rank (how final: queued < sent < delivered/failed) of the last report the CRM took, per sent message."""

    def __init__(self, state: StateStore, sealer: Sealer, prefix: str, instance: str) -> None:
        self.state = state
        self.sealer = sealer
        self.prefix = prefix
        self.instance = instance

    def _key(self, sent_id: str) -> str:
        return self.prefix + self.sealer.digest(f"{self.instance}:rank:{sent_id}")

    async def fresh(self, report: Message, rank: int) -> Inbound:
        """The report to pass on, or nothing when one as final or more already was (`report.ref`: the sent id)."""
        seen = await self.state.get(self._key(report.ref or ""))
        if seen is not None and seen.isdigit() and int(seen) >= rank:
            return Inbound()
        return Inbound.of(report)

    async def settle(self, report: Message, result: Result, rank: int) -> Result:
        """Remember the rank of a report the CRM took; `result` unchanged."""
        if result.acknowledged and report.ref:
            await self.state.set(self._key(report.ref), str(rank), RANK_TTL)
        return result
