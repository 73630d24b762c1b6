"""The bot's outbound token: one msal ConfidentialClientApplication, in-memory cache, off the event loop."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msal

from connectors.teams.config import TeamsConfig

HTTP_TIMEOUT = 10
PERMANENT = frozenset({"invalid_client", "unauthorized_client", "invalid_scope", "invalid_request"})


class TokenError(Exception):
    """No token: `code` is msal's error code or a short content-free reason; never the secret."""

    def __init__(self, code: str, permanent: bool = False) -> None:
        self.code = code
        self.permanent = permanent
        super().__init__(code)


class TokenSource:
    """Client-credential tokens for the Bot Connector; msal's cache answers until near expiry."""

    def __init__(self, config: TeamsConfig, log: logging.Logger) -> None:
        self.config = config
        self.log = log
        self._app: Any = None
        self._lock = asyncio.Lock()

    def _build(self) -> Any:
        return msal.ConfidentialClientApplication(
            self.config.app_id,
            client_credential=self.config.client_credential(),
            authority=self.config.authority_url,
            token_cache=msal.TokenCache(),
            instance_discovery=False,
            timeout=HTTP_TIMEOUT,
        )

    def _acquire(self) -> dict[str, Any]:
        result: dict[str, Any] = self._app.acquire_token_for_client(scopes=[self.config.token_scope])
        return result

    async def token(self) -> str:
        """A valid access token; concurrent callers wait for one msal call at a time (no stampede)."""
        async with self._lock:
            try:
                if self._app is None:
                    self._app = await asyncio.to_thread(self._build)
                result = await asyncio.to_thread(self._acquire)
            except OSError:
                raise TokenError("token_endpoint_unreachable") from None
            except ValueError:
                raise TokenError("authority_or_credential_invalid", permanent=self._app is None) from None
            except Exception as exc:
                raise TokenError(f"msal_{type(exc).__name__}") from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if isinstance(token, str) and token:
            return token
        code = str(result.get("error") or "no_token") if isinstance(result, dict) else "no_token"
        self.log.warning("bot token not obtained", extra={"error": code})
        raise TokenError(code, permanent=code in PERMANENT)

    async def close(self) -> None:
        """Close msal's HTTP session."""
        app, self._app = self._app, None
        if app is not None:
            await asyncio.to_thread(app.http_client.close)
