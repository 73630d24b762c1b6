"""Zendesk behind the relay for the fault suite: the SunCo fake with timed faults, and the connector's config."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from bench.reliability.fakes import markers
from tests.connectors.zendesk.contract import zendesk_config
from tests.connectors.zendesk.fake import FakeSunco


class FaultySunco(FakeSunco):
    """The SunCo fake with `delay` before each post is handled and a timed fault: until `fault_until`,
    "late" stores a post and answers only after `hang_seconds`."""

    def __init__(self) -> None:
        super().__init__()
        self.delay = 0.0
        self.hang_seconds = 2.5
        self.fault = "none"
        self.fault_until = 0.0
        self.faulted = 0

    def set_fault(self, fault: str, seconds: float) -> None:
        self.fault, self.fault_until = fault, time.monotonic() + seconds

    async def post_message(self, request: web.Request) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = await super().post_message(request)
        if self.fault == "late" and time.monotonic() < self.fault_until and answer.status == 201:
            self.faulted += 1
            await asyncio.sleep(self.hang_seconds)
        return answer

    def accepted(self) -> list[tuple[str, str]]:
        """(marker, "") of every customer message SunCo holds: no idempotency key, so every repeat counts."""
        return [
            (m, "")
            for conv in self.conversations.values()
            for message in conv["messages"]
            if message["author"]["type"] == "user"
            for m in markers(str(message["content"].get("text", "")))
        ]

    def checks(self) -> int:
        """How often a relay looked for an earlier post among a conversation's recent messages."""
        return len(self.requests("/v2/apps/*/messages", "GET"))

    def notices(self) -> int:
        posted = [m for conv in self.conversations.values() for m in conv["messages"]]
        return sum(1 for m in posted if "relay_notice" in (m.get("metadata") or {}))


def crm_config(url: str, timeout: float, deadline: float) -> dict[str, Any]:
    """The `crm` instance as the zendesk connector pointed at the fake at `url`."""
    return zendesk_config(url, timeout=timeout, ack_deadline=deadline)
