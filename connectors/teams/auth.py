"""Bot Framework inbound JWT validation: OpenID metadata and JWKS fetched with aiohttp and cached."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt

from connectors.teams.config import https_or_loopback
from relay.credential import header_credential
from relay.errors import AuthError

REFRESH_EVERY = 24 * 3600.0
UNKNOWN_KID_COOLDOWN = 300.0
FAILED_FETCH_COOLDOWN = 10.0
LEEWAY = 300


class KeysUnavailable(Exception):
    """The signing keys could not be fetched; the request cannot be checked now (answer 503)."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One JWKS entry: the public key and the channels it is endorsed for."""

    key: Any
    endorsements: frozenset[str]


@dataclass(frozen=True, slots=True)
class Verified:
    """A token that passed signature, issuer, audience and expiry checks."""

    claims: dict[str, Any]
    key: SigningKey


class KeyCache:
    """The JWKS of the OpenID metadata: refreshed daily, and on an unknown kid at most once per cooldown;
    concurrent requests share one refresh."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        metadata_url: str,
        log: logging.Logger,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.metadata_url = metadata_url
        self.log = log
        self.clock = clock
        self.keys: dict[str, SigningKey] = {}
        self.fetched_at: float | None = None
        self.last_attempt: float | None = None
        self.refreshes = 0
        self._lock = asyncio.Lock()

    def _may_refresh(self, now: float) -> bool:
        if self.last_attempt is None:
            return True
        cooldown = UNKNOWN_KID_COOLDOWN if self.keys else FAILED_FETCH_COOLDOWN
        return now - self.last_attempt >= cooldown

    def _stale(self, now: float) -> bool:
        return self.fetched_at is None or now - self.fetched_at >= REFRESH_EVERY

    async def get(self, kid: str) -> SigningKey:
        """The key for `kid`; AuthError if unknown after the allowed refresh, KeysUnavailable if none loaded."""
        if kid not in self.keys or self._stale(self.clock()):
            async with self._lock:
                now = self.clock()
                if (kid not in self.keys or self._stale(now)) and self._may_refresh(now):
                    await self._refresh(now)
        found = self.keys.get(kid)
        if found is not None:
            return found
        if not self.keys:
            raise KeysUnavailable()
        raise AuthError("token signed with an unknown key", 401)

    async def ensure(self) -> int:
        """Load the keys if none are loaded (within the refresh limits); the number of keys held."""
        async with self._lock:
            now = self.clock()
            if (not self.keys or self._stale(now)) and self._may_refresh(now):
                await self._refresh(now)
        return len(self.keys)

    async def _refresh(self, now: float) -> None:
        self.last_attempt = now
        self.refreshes += 1
        try:
            meta = await self._json(self.metadata_url)
            jwks_uri = meta.get("jwks_uri") if isinstance(meta, dict) else None
            if not isinstance(jwks_uri, str):
                raise ValueError("metadata has no jwks_uri")
            data = await self._json(https_or_loopback(jwks_uri))
            keys = _parse_jwks(data)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self.log.warning("signing keys not refreshed", extra={"error": type(exc).__name__})
            return
        self.keys = keys
        self.fetched_at = now
        self.log.info("signing keys refreshed", extra={"count": len(keys)})

    async def _json(self, url: str) -> Any:
        timeout = aiohttp.ClientTimeout(total=10)
        async with self.session.get(url, allow_redirects=False, timeout=timeout) as resp:
            if resp.status != 200:
                raise ValueError(f"HTTP {resp.status}")
            return await resp.json(content_type=None)


def _parse_jwks(data: Any) -> dict[str, SigningKey]:
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ValueError("JWKS has no keys")
    out: dict[str, SigningKey] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str) or entry.get("kty") != "RSA":
            continue
        try:
            key = jwt.PyJWK({k: v for k, v in entry.items() if k != "endorsements"}, algorithm="RS256").key
        except jwt.PyJWTError:
            continue
        raw = entry.get("endorsements")
        endorsements = frozenset(e for e in raw if isinstance(e, str)) if isinstance(raw, list) else frozenset()
        out[entry["kid"]] = SigningKey(key, endorsements)
    if not out:
        raise ValueError("JWKS has no usable RSA keys")
    return out


def bearer(header: str | None) -> str:
    """The token of an `Authorization: Bearer` header; AuthError(401) if absent."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("missing bearer token", 401)
    header_credential(token, "bearer token")
    return token.strip()


async def verify_token(token: str, keys: KeyCache, app_id: str, issuer: str) -> Verified:
    """Check signature (RS256, key by kid), issuer, audience = app id and expiry with 5 minutes of skew."""
    if not app_id:
        raise AuthError("no app id configured", 401)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise AuthError("malformed token", 401) from None
    kid = header.get("kid")
    if header.get("alg") != "RS256" or not isinstance(kid, str):
        raise AuthError("token must be RS256 with a key id", 401)
    key = await keys.get(kid)
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=app_id,
            issuer=issuer,
            leeway=LEEWAY,
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("token expired", 401) from None
    except jwt.InvalidAudienceError:
        raise AuthError("token audience is not this bot", 401) from None
    except jwt.InvalidIssuerError:
        raise AuthError("token issuer is not the Bot Framework", 401) from None
    except jwt.PyJWTError:
        raise AuthError("token is not valid", 401) from None
    return Verified(claims, key)


def check_activity(verified: Verified, service_url: object, channel_id: object, channels: Sequence[str]) -> None:
    """The channel must be one this bot serves, the token's serviceurl claim must equal the activity's, and its
    key must be endorsed for the channel."""
    if not isinstance(channel_id, str) or channel_id not in channels:
        raise AuthError("channelId is not a channel this bot accepts (teams channels setting)", 403)
    claim = verified.claims.get("serviceurl")
    if not isinstance(service_url, str) or not isinstance(claim, str) or claim != service_url:
        raise AuthError("serviceUrl does not match the token", 403)
    if not isinstance(channel_id, str) or channel_id not in verified.key.endorsements:
        raise AuthError("signing key is not endorsed for this channel", 403)
