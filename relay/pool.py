"""Outbound connection pools: the media pool apart from deliveries, and a cheap saturation check."""

from __future__ import annotations

import aiohttp
from aiohttp.abc import AbstractResolver

from relay.netguard import NetGuard, guarded_session

MEDIA_READ_HEADROOM = 16  # media connections beyond media.max_streams, for attachments read to deliver them


def media_session(
    max_streams: int, fetch_timeout: float, guard: NetGuard | None, resolver: AbstractResolver | None = None
) -> aiohttp.ClientSession:
    """A client session for media fetches: its own bounded pool and a total deadline per request, so
    slow or stuck file hosts never hold connections that deliveries need. With a `guard` it refuses
    private addresses (for file URLs taken from platform data); without, it is for configured hosts."""
    timeout = aiohttp.ClientTimeout(total=fetch_timeout, connect=10, sock_read=30)
    limit = max_streams + MEDIA_READ_HEADROOM
    if guard is not None:
        return guarded_session(guard, resolver=resolver, limit=limit, timeout=timeout)
    return aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=limit, resolver=resolver))


def saturated(session: aiohttp.ClientSession) -> bool:
    """True when every connection of the session's pool is in use and requests are queued for one."""
    pool = session.connector
    if pool is None or not pool.limit:
        return False
    in_use = len(getattr(pool, "_acquired", ()))
    waiters = getattr(pool, "_waiters", {})
    return in_use >= pool.limit and any(len(queue) for queue in waiters.values())
