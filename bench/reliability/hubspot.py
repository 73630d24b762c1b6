"""HubSpot behind the relay for the fault suite: the connector's fake with timed faults, and its config."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from bench.reliability.fakes import markers
from tests.connectors.hubspot.fake import FakeHubSpot
from tests.connectors.hubspot.helpers import hs_config


class FaultyHubSpot(FakeHubSpot):
    """The HubSpot fake, unthrottled, with `delay` before each publish is handled and a timed fault: until
    `fault_until`, "late" commits a publish and answers only after `hang_seconds`."""

    def __init__(self) -> None:
        super().__init__()
        self.limit = 1_000_000
        self.delay = 0.0
        self.hang_seconds = 2.5
        self.fault = "none"
        self.fault_until = 0.0
        self.faulted = 0
        self.channel, self.account_ids = self.seed("http://127.0.0.1/hooks/crm", ("tg",))

    def set_fault(self, fault: str, seconds: float) -> None:
        self.fault, self.fault_until = fault, time.monotonic() + seconds

    async def publish(self, request: web.Request) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = await super().publish(request)
        if self.fault == "late" and time.monotonic() < self.fault_until:
            self.faulted += 1
            await asyncio.sleep(self.hang_seconds)
        return answer

    def accepted(self) -> list[tuple[str, str]]:
        """(marker, integrationIdempotencyId) of every customer message HubSpot holds: a marker twice here
        would be a message twice in the agent's thread."""
        return [
            (m, str(message.get("integrationIdempotencyId", "")))
            for message in self.messages.values()
            if message["direction"] == "INCOMING"
            for m in markers(str(message["text"]))
        ]

    def repeats(self) -> int:
        """Publishes that named an integrationIdempotencyId HubSpot already held (each answered with the stored one)."""
        return sum(count - 1 for count in self.publishes.values() if count > 1)

    def notices(self) -> int:
        return sum(1 for _, status, _ in self.statuses if status == "FAILED")


def crm_config(fake: FaultyHubSpot, url: str, timeout: float, deadline: float) -> dict[str, Any]:
    """The `crm` instance as the hubspot connector pointed at the fake at `url`."""
    cfg = hs_config(url, fake.channel, fake.account_ids, max_rate=100.0, contacts="off")
    return cfg | {"timeout": timeout, "ack_deadline": deadline}
