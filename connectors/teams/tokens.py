"""Library-forced module (msal does its own HTTP): the bot's outbound token, its failures mapped to Reasons."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msal

from connectors.teams.config import TeamsConfig
from relay.errors import DeliveryError
from relay.reasons import Reason

HTTP_TIMEOUT = 10
RETRY_AFTER = 5.0
PERMANENT = frozenset({"invalid_client", "unauthorized_client", "invalid_scope", "invalid_request"})


def token_error(code: str, permanent: bool = False) -> DeliveryError:
    """No token: credentials refused for good (fix the config), or not obtainable right now (retried shortly).
    `detail` is msal's error code or a short content-free reason; never the secret."""
    if permanent:
        return DeliveryError(Reason.PLATFORM_AUTH_FAILED, scope="connector", detail=code)
    return DeliveryError(Reason.TOKEN_UNAVAILABLE, retry_after=RETRY_AFTER, scope="connector", detail=code)


class TokenSource:
    """Client-credential tokens for the Bot Connector; msal's in-memory cache answers until near expiry,
    and its blocking calls run off the event loop."""

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
        """A valid access token (concurrent callers wait for one msal call at a time: no stampede);
        DeliveryError with TOKEN_UNAVAILABLE or PLATFORM_AUTH_FAILED if none can be had."""
        async with self._lock:
            try:
                if self._app is None:
                    self._app = await asyncio.to_thread(self._build)
                result = await asyncio.to_thread(self._acquire)
            except OSError:
                raise token_error("token_endpoint_unreachable") from None
            except ValueError:
                raise token_error("authority_or_credential_invalid", permanent=self._app is None) from None
            except Exception as exc:
                raise token_error(f"msal_{type(exc).__name__}") from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if isinstance(token, str) and token:
            return token
        code = str(result.get("error") or "no_token") if isinstance(result, dict) else "no_token"
        self.log.warning("bot token not obtained", extra={"error": code})
        raise token_error(code, permanent=code in PERMANENT)

    async def close(self) -> None:
        """Close msal's HTTP session."""
        app, self._app = self._app, None
        if app is not None:
            await asyncio.to_thread(app.http_client.close)
