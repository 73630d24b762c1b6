"""OAuth access tokens held only in memory: refreshed before they expire, once at a time, once more on a 401."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from relay.client import Answer, Call, PlatformClient
from relay.errors import DeliveryError
from relay.reasons import Reason
from relay.secret import Secret


@dataclass(frozen=True, slots=True)
class Grant:
    """An access token and how many seconds it lasts."""

    token: Secret
    expires_in: float


class TokenRevoked(DeliveryError):
    """The authorization server refused the refresh token for good: the install was removed or revoked."""

    def __init__(self, detail: str | int | None = None) -> None:
        super().__init__(Reason.PLATFORM_AUTH_FAILED, scope="connector", detail=detail)


class TokenCache:
    """One access token in memory: `get()` returns it, refreshing through `obtain` when fewer than
    `margin` seconds are left; concurrent callers share one refresh. After a revocation, `obtain` is
    not called again for `cooldown` seconds, so a removed install is not hammered on every message."""

    def __init__(
        self,
        obtain: Callable[[], Awaitable[Grant]],
        margin: float = 300.0,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.obtain = obtain
        self.margin = margin
        self.cooldown = cooldown
        self.clock = clock
        self.revoked: TokenRevoked | None = None
        self.refreshes = 0
        self._token: Secret | None = None
        self._expires = 0.0
        self._life = 0.0
        self._retry_at = 0.0
        self._lock = asyncio.Lock()

    def _fresh(self) -> Secret | None:
        if self._token is not None and self.clock() < self._expires - min(self.margin, self._life / 2):
            return self._token
        return None

    async def get(self) -> Secret:
        """A usable access token; DeliveryError (TokenRevoked when the grant is gone) if none can be had."""
        found = self._fresh()
        if found is not None:
            return found
        async with self._lock:
            found = self._fresh()
            if found is not None:
                return found
            if self.revoked is not None and self.clock() < self._retry_at:
                raise self.revoked
            try:
                grant = await self.obtain()
            except TokenRevoked as exc:
                self.revoked, self._retry_at = exc, self.clock() + self.cooldown
                self._token = None
                raise
            self.refreshes += 1
            self.revoked = None
            self._token, self._life = grant.token, max(1.0, grant.expires_in)
            self._expires = self.clock() + self._life
            return grant.token

    def expire(self, token: Secret) -> None:
        """The platform refused `token` (401): the next `get()` refreshes, unless another caller already did."""
        if self._token == token:
            self._token = None


async def call_with_token(client: PlatformClient, tokens: TokenCache, make: Callable[[Secret], Call]) -> Answer:
    """Send `make(token)`; on a 401 refresh the token once and send it again."""
    token = await tokens.get()
    answer = await client.call(make(token))
    if answer.status != 401:
        return answer
    tokens.expire(token)
    return await client.call(make(await tokens.get()))
