"""One answer per offered choice: a click claims the message that offered it (a keyed digest in the state store);
a choice the CRM did not take frees the claim, so the customer can pick again."""

from __future__ import annotations

from relay.connector import Outcome, Result
from relay.seal import Sealer
from relay.state import StateStore

ANSWERED_TTL = 30 * 86400.0
TOOK = (Outcome.DELIVERED, Outcome.DUPLICATE)


class Once:
    """Claims on the messages whose choices were answered, for one connector instance."""

    def __init__(self, state: StateStore, sealer: Sealer, prefix: str, instance: str) -> None:
        self.state = state
        self.sealer = sealer
        self.prefix = prefix
        self.instance = instance

    def key(self, *where: str) -> str:
        """The claim key of the message at `where` (e.g. its channel and id), content-free."""
        return self.prefix + self.sealer.digest(":".join((self.instance, *where)))

    async def claim(self, key: str, click: str) -> bool:
        """True for the first click on the message, and for that click again (a platform's redelivery, which
        the engine's dedup then answers); False for another click once one was taken or is on its way."""
        mark = self.sealer.digest(click)
        if await self.state.claim(key, mark, ANSWERED_TTL):
            return True
        return await self.state.get(key) == mark

    async def settle(self, key: str, result: Result) -> bool:
        """True when the CRM took the choice (the claim stays); otherwise the claim is freed and False."""
        if result.outcome in TOOK:
            return True
        await self.state.delete(key)
        return False
