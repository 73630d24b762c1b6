"""What a fake platform sends on its own (webhooks, delivery reports): background tasks on one client session."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import aiohttp


class Background:
    """The tasks a fake started and the session they share; `settle` waits for them, `close` cancels the rest."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def session(self, timeout: aiohttp.ClientTimeout | None = None) -> aiohttp.ClientSession:
        """The shared session, made on first use (with `timeout` when given)."""
        if self._session is None:
            self._session = aiohttp.ClientSession() if timeout is None else aiohttp.ClientSession(timeout=timeout)
        return self._session

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until every task has finished, or `timeout` seconds."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self._tasks and loop.time() < end:
            await asyncio.wait(set(self._tasks), timeout=max(0.0, end - loop.time()))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
