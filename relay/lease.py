"""A lease in the state store: which one replica runs a receive loop (a poller, a mailbox) right now."""

from __future__ import annotations

import secrets

from relay.state import StateStore


class Lease:
    """Held by one replica at a time; taken and renewed by `take`, given up by `release` at a clean stop."""

    def __init__(self, state: StateStore, key: str, ttl: float) -> None:
        self.state = state
        self.key = key
        self.ttl = ttl
        self.holder = secrets.token_hex(12)

    async def take(self) -> bool:
        """Take or renew the lease for `ttl` seconds; False while another replica holds it."""
        return await self.state.lease(self.key, self.holder, self.ttl)

    async def release(self) -> None:
        """Give the lease up if still ours, so another replica takes over at once (not after `ttl`)."""
        if await self.state.get(self.key) == self.holder:
            await self.state.delete(self.key)
