"""Per-contact metadata in the StateStore, apart because both inbound.py and connector.py keep it: the service
window, status order, pair backoff, and consent (the one place it lives, in `Consent`).

Keys are keyed digests of (phone number id, wa_id or wamid); values are timestamps, ranks or counters,
never content; where a customer moved to after changing their number is kept sealed (encrypted). With
several replicas they are shared through the relay's Redis state backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from relay.errors import AuthError
from relay.model import Address
from relay.seal import Sealer
from relay.state import StateStore

WINDOW = 24 * 3600.0
STATUS_TTL = 8 * 24 * 3600.0
PART_TTL = 24 * 3600.0
MOVE_TTL = 400 * 24 * 3600.0
MOVES = 5


class Keys:
    """State keys for one phone number: a tag and a keyed digest of the number and the contact or message."""

    def __init__(self, digest: Callable[[str], str], phone_number_id: str) -> None:
        self.digest = digest
        self.number = phone_number_id

    def __call__(self, tag: str, value: str) -> str:
        return f"wa:{tag}:" + self.digest(f"{self.number}:{value}")


class Policy:
    """What the connector remembers about a contact between requests (consent aside)."""

    def __init__(self, state: StateStore, keys: Keys, sealer: Sealer, instance: str) -> None:
        self.state = state
        self.key = keys
        self.sealer = sealer
        self.instance = instance

    async def move(self, old: str, new: str) -> None:
        """The customer at `old` changed their number to `new`: sends to `old` go to `new` from now on, with
        the 24-hour window `old` had (the account is the same)."""
        await self.state.delete(self.key("m", new))
        await self.state.set(self.key("m", old), self.sealer.seal(Address(self.instance, new)), MOVE_TTL)
        opened, last = await self.state.get(self.key("w", old)), await self.last_inbound(old)
        if opened is not None:
            await self.saw_inbound(new, int(opened), last)

    async def current(self, chat: str) -> str:
        """Where a send to `chat` goes: the latest number of a customer who changed theirs, else `chat`."""
        for _ in range(MOVES):
            sealed = await self.state.get(self.key("m", chat))
            if sealed is None:
                break
            try:
                chat = self.sealer.open(sealed).chat
            except AuthError:
                break
        return chat

    async def saw_inbound(self, wa_id: str, ts: int, wamid: str | None = None) -> None:
        """A customer message sent at `ts` (re)opens the 24-hour window until ts + 24 h; its id is what a
        typing indicator is shown against."""
        ts = ts or int(time.time())
        left = ts + WINDOW - time.time()
        stored = await self.state.get(self.key("w", wa_id))
        if left > 0 and (stored is None or int(stored) <= ts):
            await self.state.set(self.key("w", wa_id), str(ts), left)
            if wamid:
                await self.state.set(self.key("l", wa_id), wamid, left)

    async def last_inbound(self, wa_id: str) -> str | None:
        """The id of the customer's latest message while the window is open."""
        return await self.state.get(self.key("l", wa_id))

    async def window_open(self, wa_id: str) -> bool:
        stored = await self.state.get(self.key("w", wa_id))
        return stored is not None and int(stored) + WINDOW > time.time()

    async def close_window(self, wa_id: str) -> None:
        """Meta said the window is closed (131047): believe it over our own clock."""
        await self.state.delete(self.key("w", wa_id))

    async def status_fresh(self, wamid: str, rank: int) -> bool:
        """False for a status older than one already forwarded for this wamid (delivered after read)."""
        key = self.key("s", wamid)
        stored = int(await self.state.get(key) or 0)
        if rank < stored:
            return False
        if rank > stored:
            await self.state.set(key, str(rank), STATUS_TTL)
        return True

    async def pair_attempt(self, wa_id: str) -> int:
        """Count consecutive pair-rate refusals (131056) for this contact; 1 on the first."""
        key = self.key("b", wa_id)
        n = int(await self.state.get(key) or 0) + 1
        await self.state.set(key, str(n), 600.0)
        return n

    async def pair_reset(self, wa_id: str) -> None:
        key = self.key("b", wa_id)
        if await self.state.get(key) is not None:
            await self.state.delete(key)

    async def nudge(self, wa_id: str) -> bool:
        """True once per day per contact: may a fixed re-engagement template be sent now?"""
        return await self.state.claim(self.key("n", wa_id), "1", WINDOW)

    async def sent_part(self, part: str) -> str | None:
        return await self.state.get(self.key("p", part))

    async def remember_part(self, part: str, wamid: str) -> None:
        await self.state.set(self.key("p", part), wamid, PART_TTL)
