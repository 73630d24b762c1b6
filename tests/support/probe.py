"""Asking a relay process from outside: the status of a POST, 0 while nothing answers."""

from __future__ import annotations

import aiohttp


async def post_status(session: aiohttp.ClientSession, url: str) -> int:
    try:
        async with session.post(url, data=b"{}") as resp:
            return resp.status
    except aiohttp.ClientError:
        return 0
