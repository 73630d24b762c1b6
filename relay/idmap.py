"""The id map: a message's id on one side to its id on the other, kept as keyed digests for a while."""

from __future__ import annotations

import asyncio
import time

from relay.connector import ConnectorKind
from relay.errors import DeliveryError
from relay.model import Kind, Message
from relay.reasons import Reason
from relay.seal import Sealer
from relay.state import StateStore

_CHANGES = (Kind.EDIT, Kind.DELETE, Kind.REACTION)


class IdMap:
    """Maps ids across a route; a change to a message still being sent waits for that send."""

    def __init__(self, store: StateStore, sealer: Sealer, ttl: float, wait: float = 3.0) -> None:
        self.store = store
        self.sealer = sealer
        self.ttl = ttl
        self.wait = wait

    def key(self, instance: str, platform_id: str) -> str:
        return "i:" + self.sealer.digest(f"{instance}:{platform_id}")

    def entries(self, origin: str, origin_id: str, dest: str, dest_id: str) -> list[tuple[str, str, float]]:
        """The two entries that let either side refer to this message later."""
        return [(self.key(origin, origin_id), dest_id, self.ttl), (self.key(dest, dest_id), origin_id, self.ttl)]

    async def translate(self, message: Message, dest: str, dest_kind: ConnectorKind | None, end: float) -> Message:
        """`message` with its ref in the destination's ids; a change naming no known message fails."""
        if message.ref is None:
            return message
        key = self.key(message.origin, message.ref)
        mapped = await self.store.get(key)
        if mapped is not None:
            return message.with_(ref=mapped)
        if message.kind not in _CHANGES or dest_kind is not ConnectorKind.MESSENGER:
            return message
        if message.kind is Kind.REACTION and await self.store.get(self.key(dest, message.ref)):
            return message
        mapped = await self._awaited(key, min(end, time.monotonic() + self.wait))
        if mapped is None:
            raise DeliveryError(Reason.UNKNOWN_MESSAGE)
        return message.with_(ref=mapped)

    async def _awaited(self, key: str, until: float) -> str | None:
        """The entry once the send it belongs to has finished (the CRM may post an edit right after
        the answer it changes, before that answer reached the messenger), or None by `until`."""
        pause = 0.05
        while time.monotonic() + pause < until:
            await asyncio.sleep(pause)
            mapped = await self.store.get(key)
            if mapped is not None:
                return mapped
            pause = min(pause * 2, 0.5)
        return None
