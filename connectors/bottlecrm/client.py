"""A thin BottleCRM REST client on the shared session; failures become content-free DeliveryErrors."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from relay.errors import DeliveryError

log = logging.getLogger("relay.connector.bottlecrm")

_NOT_PROCESSED = (502, 503, 504)


def _retry_after(resp: aiohttp.ClientResponse) -> float | None:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "")))
    except ValueError:
        return None


class Api:
    """Authenticated JSON calls to one BottleCRM instance."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str, timeout: float) -> None:
        self.session = session
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, str] | None = None,
        *,
        idempotent: bool | None = None,
        ok: tuple[int, ...] = (),
    ) -> tuple[int, Any]:
        """One call; returns (status, JSON) for 2xx and for statuses in `ok`, else raises DeliveryError."""
        safe = method in ("GET", "HEAD") if idempotent is None else idempotent
        try:
            async with self.session.request(
                method,
                f"{self.base}{path}",
                json=body,
                params=params,
                headers=self.headers,
                timeout=self.timeout,
                allow_redirects=False,
            ) as resp:
                status = resp.status
                if 200 <= status < 300 or status in ok:
                    try:
                        return status, await resp.json(content_type=None)
                    except ValueError:
                        return status, None
                if status == 429:
                    raise DeliveryError(
                        "crm_throttled", retryable=True, retry_after=_retry_after(resp) or 5, scope="connector"
                    )
                if status in _NOT_PROCESSED or (status >= 500 and safe):
                    raise DeliveryError(
                        f"crm_http_{status}", retryable=True, retry_after=_retry_after(resp), scope="connector"
                    )
                if status in (401, 403):
                    raise DeliveryError(f"crm_auth_failed_{status}", scope="connector")
                raise DeliveryError(f"crm_http_{status}" if status >= 500 else f"crm_rejected_{status}")
        except aiohttp.ClientConnectorError:
            raise DeliveryError("crm_unreachable", retryable=True, scope="connector") from None
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise DeliveryError("crm_timeout", retryable=safe, scope="connector") from None
        except aiohttp.ClientError as exc:
            raise DeliveryError(f"crm_{type(exc).__name__}", retryable=safe, scope="connector") from None

    async def get(self, path: str, params: dict[str, str] | None = None, ok: tuple[int, ...] = ()) -> tuple[int, Any]:
        return await self.call("GET", path, params=params, ok=ok)

    async def post(self, path: str, body: Any, *, idempotent: bool = False) -> Any:
        return (await self.call("POST", path, body, idempotent=idempotent))[1]

    async def patch(self, path: str, body: Any) -> Any:
        return (await self.call("PATCH", path, body, idempotent=True))[1]
