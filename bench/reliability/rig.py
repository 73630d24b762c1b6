"""A test rig: fake Bot API and fake CRM on fixed ports, relay replicas as subprocesses, a redelivering source."""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

from bench.reliability.fakes import FakeBotApi, FaultyCrm, Server
from bench.reliability.hubspot import FaultyHubSpot, crm_config
from bench.reliability.relays import WORKSPACE_KEY, RelayProc, free_port, new_workspace, redis_available, relay_config
from bench.reliability.source import Redeliverer, Request, crm_answer, telegram_update
from bench.reliability.zendesk import FaultySunco
from bench.reliability.zendesk import crm_config as zendesk_config
from relay.model import Address
from relay.seal import Sealer, WorkspaceKey
from tests.support.crm_sink import SINK_SECRET

Hook = Callable[[], Awaitable[None]]


class Rig:
    """Everything one fault run needs; `async with Rig(...) as rig:` starts it and stops it all."""

    def __init__(
        self,
        replicas: int = 1,
        level: str = "info",
        deadline: float = 2.0,
        crm_timeout: float = 1.0,
        grace: float = 5.0,
        give_up: float = 60.0,
        redis: bool | None = None,
        crm: str = "webhook",
        state: dict[str, Any] | None = None,
    ) -> None:
        self.run = secrets.token_hex(4)
        self.workspace = new_workspace()
        self.redis = state is not None or (redis_available() if redis is None else redis)
        self.bot = FakeBotApi()
        self.crm = FaultyCrm()
        self.hubspot = FaultyHubSpot() if crm == "hubspot" else None
        self.sunco = FaultySunco() if crm == "zendesk" else None
        self.bot_server = Server(self.bot.app(), free_port())
        self.crm_server = Server(self.destination().app(), free_port())
        self.give_up = give_up
        self._tmp = tempfile.TemporaryDirectory(prefix="relay-rel-")
        configs = [
            relay_config(
                free_port(),
                self.bot_server.url,
                self.crm_server.url,
                self.workspace,
                self.redis,
                level,
                deadline,
                crm_timeout,
                grace,
                state,
            )
            for _ in range(replicas)
        ]
        if self.hubspot is not None:
            for cfg in configs:
                cfg["connectors"]["crm"] = crm_config(self.hubspot, self.crm_server.url, crm_timeout, deadline + 1.0)
        if self.sunco is not None:
            for cfg in configs:
                cfg["connectors"]["crm"] = zendesk_config(self.crm_server.url, crm_timeout, deadline + 1.0)
        self.relays = [RelayProc(f"r{i}", cfg, Path(self._tmp.name)) for i, cfg in enumerate(configs)]
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Rig:
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256, force_close=True))
        await self.bot_server.open()
        await self.crm_server.open()
        for relay in self.relays:
            relay.start()
        try:
            await asyncio.gather(*(relay.ready(self.session) for relay in self.relays))
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.gather(*(relay.stop() for relay in self.relays))
        await self.bot_server.close()
        await self.crm_server.close()
        if self.session is not None:
            await self.session.close()
        self._tmp.cleanup()

    def destination(self) -> FaultyCrm | FaultyHubSpot | FaultySunco:
        """The CRM fake the messenger traffic goes to: the webhook sink, HubSpot, or Zendesk (SunCo)."""
        return self.hubspot or self.sunco or self.crm

    def source(self, pause: float = 0.3) -> Redeliverer:
        assert self.session is not None
        return Redeliverer(self.session, [r.url for r in self.relays], pause=pause, give_up=self.give_up)

    def marker(self, i: int) -> str:
        return f"rel-{self.run}-{i}"

    def inbound(self, count: int, text: Callable[[str], str] = lambda m: f"hello {m}") -> list[Callable[[], Request]]:
        """Telegram updates from `count` messages over 20 chats."""
        return [telegram_update(i + 1, 1000 + i % 20, text(self.marker(i))) for i in range(count)]

    def answers(self, count: int, text: Callable[[str], str] = lambda m: f"answer {m}") -> list[Callable[[], Request]]:
        """CRM answers to `count` different Telegram chats (one each, so per-chat limits do not dominate)."""
        sealer = Sealer(self.workspace, [WorkspaceKey("k1", WORKSPACE_KEY.encode())])
        out = []
        for i in range(count):
            conversation = sealer.seal(Address("tg", str(2000 + i), handle='{"chat_type":"private"}'))
            out.append(crm_answer(SINK_SECRET, conversation, f"ans-{self.run}-{i}", text(self.marker(i))))
        return out

    async def traffic(
        self, source: Redeliverer, requests: Sequence[Callable[[], Request]], rate: float, mid: Hook | None = None
    ) -> float:
        """Send at `rate` per second, run `mid` half-way, wait until every request was acknowledged or given up.
        Returns the seconds it took."""
        started = time.monotonic()
        tasks = []
        for i, make in enumerate(requests):
            tasks.append(asyncio.create_task(source.post(make)))
            if mid is not None and i == len(requests) // 2:
                await mid()
            await asyncio.sleep(1 / rate)
        await asyncio.gather(*tasks)
        return time.monotonic() - started

    async def notices_metric(self) -> float:
        assert self.session is not None
        values = await asyncio.gather(*(r.metric(self.session, "relay_notices_total") for r in self.relays))
        return sum(values)

    def logs(self) -> str:
        return "\n".join("\n".join(r.lines) for r in self.relays)

    def config(self) -> dict[str, Any]:
        return self.relays[0].config
