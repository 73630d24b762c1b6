"""Library adapter (msal is blocking: app-only tokens are obtained on a thread here; every Graph call carries one)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msal

from connectors.graphmail.config import GraphMailConfig
from relay.client import Answer, Call, PlatformClient
from relay.errors import DeliveryError
from relay.media import close_chunks
from relay.reasons import Reason

PERMANENT = frozenset({"invalid_client", "unauthorized_client", "invalid_scope", "invalid_request"})
MSAL_TIMEOUT = 10
TRUNCATED = 1 << 40


class Graph:
    """Authorised Graph calls: an msal client-credential token (cached by msal until near expiry, refreshed
    once on a 401), at most `concurrency` calls at once (Graph allows 4 per app and mailbox)."""

    def __init__(self, config: GraphMailConfig, client: PlatformClient) -> None:
        self.config = config
        self.client = client
        self._app: Any = None
        self._lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(config.concurrency)

    def _build(self) -> Any:
        cfg = self.config
        return msal.ConfidentialClientApplication(
            cfg.client_id,
            client_credential=cfg.client_secret.reveal(),
            authority=f"{cfg.authority.rstrip('/')}/{cfg.tenant_id}",
            token_cache=msal.TokenCache(),
            instance_discovery=False,
            timeout=MSAL_TIMEOUT,
        )

    def _acquire(self, fresh: bool) -> dict[str, Any]:
        if fresh:
            for account in self._app.get_accounts():
                self._app.remove_account(account)
        result: dict[str, Any] = self._app.acquire_token_for_client(scopes=[self.config.scope], force_refresh=fresh)
        return result

    async def token(self, fresh: bool = False) -> str:
        """An access token; DeliveryError (TOKEN_UNAVAILABLE, or PLATFORM_AUTH_FAILED when the tenant
        refuses the app for good) when none can be had. Concurrent callers share one msal call."""
        async with self._lock:
            try:
                if self._app is None:
                    self._app = await asyncio.to_thread(self._build)
                result = await asyncio.to_thread(self._acquire, fresh)
            except Exception as exc:
                raise DeliveryError(Reason.TOKEN_UNAVAILABLE, retry_after=5, detail=type(exc).__name__) from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if isinstance(token, str) and token:
            return token
        code = str(result.get("error") or "no_token") if isinstance(result, dict) else "no_token"
        if code in PERMANENT:
            raise DeliveryError(Reason.PLATFORM_AUTH_FAILED, scope="connector", detail=code)
        raise DeliveryError(Reason.TOKEN_UNAVAILABLE, retry_after=5, detail=code)

    async def call(self, make: Callable[[str], Call]) -> Answer:
        """Send `make(token)` (a Call); on a 401 get a fresh token and send it once more."""
        async with self._slots:
            answer = await self.client.call(make(await self.token()))
            if answer.status == 401:
                answer = await self.client.call(make(await self.token(fresh=True)))
            return answer

    async def stream_call(self, make: Callable[[str], Call], limit: int, truncate: bool = False) -> bytes:
        """The body of a file-like answer (a MIME message) in memory: whole up to `limit` bytes (MediaError
        beyond), or with `truncate` its first `limit` bytes."""
        call = make(await self.token())
        async with self._slots:
            stream = await self.client.stream(call, TRUNCATED if truncate else limit)
            got: list[bytes] = []
            size = 0
            try:
                async for chunk in stream.chunks:
                    got.append(chunk)
                    size += len(chunk)
                    if truncate and size >= limit:
                        break
            finally:
                await close_chunks(stream.chunks)
            return b"".join(got)[:limit]

    async def close(self) -> None:
        """Close msal's HTTP session."""
        app, self._app = self._app, None
        if app is not None:
            await asyncio.to_thread(app.http_client.close)
