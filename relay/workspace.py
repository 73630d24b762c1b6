"""One workspace's runtime: its connectors, engine, media and metrics, and the state store and sessions they use."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

import aiohttp

from relay.client import HostPolicy, PlatformClient, Sessions
from relay.config import Instance, Loaded
from relay.connector import Connector, ConnectorKind, Context, Result, Route
from relay.consent import Ledger, MemoryLedger
from relay.consent_setup import make_guard
from relay.engine import Engine, EngineSettings
from relay.errors import ConfigError
from relay.exposure import Exposure
from relay.hooktable import HookTable, shedder
from relay.media import MediaService
from relay.metrics import Metrics
from relay.model import Message
from relay.netguard import NetGuard, guarded_session
from relay.readiness import StateProbe
from relay.reasons import Reason
from relay.router import Router
from relay.seal import Sealer, WorkspaceKey
from relay.state import MemoryStateStore, StateStore
from relay.tracing_config import TracingConfig
from relay.wirepool import WireClient

if TYPE_CHECKING:
    from relay.tracing import Tracing

POOL_HEADROOM = 64  # client connections beyond max_inflight, for long polls and platform API calls (not media)
log = logging.getLogger("relay.app")


async def make_store(loaded: Loaded) -> StateStore:
    """The configured StateStore; Redis is checked for persistence before use."""
    cfg = loaded.relay.state
    if cfg.backend == "redis":
        from relay.state_redis import RedisStateStore

        prefix = f"relay:{loaded.relay.workspace.id}:"
        if cfg.cluster:
            from relay.state_cluster import ClusterStateStore, cluster_prefix

            password = cfg.password.reveal() if cfg.password else None
            return await ClusterStateStore.connect_cluster(
                cfg.cluster, cluster_prefix(loaded.relay.workspace.id), password
            )
        if cfg.sentinels:
            from relay.state_sentinel import connect_from

            return await connect_from(cfg, prefix)
        assert cfg.url is not None, "validated by StateConfig"
        return await RedisStateStore.connect(cfg.url.reveal(), prefix, cfg.assume_no_persistence)
    return MemoryStateStore(cfg.max_entries)


def start_tracing(cfg: TracingConfig | None, sealer: Sealer) -> Tracing | None:
    """Tracing as `[tracing]` configures it; without the section OpenTelemetry is never imported."""
    if cfg is None:
        return None
    from relay.tracing import Tracing

    return Tracing.configured(cfg, sealer)


def untrusted_session(loaded: Loaded, timeout: aiohttp.ClientTimeout) -> aiohttp.ClientSession:
    """The session for URLs taken from platform or CRM data: public addresses only, plus network.allow_private."""
    guard = NetGuard.of(loaded.relay.network.allow_private)
    return guarded_session(guard, limit=loaded.relay.server.max_inflight + POOL_HEADROOM, timeout=timeout)


class Relay:
    """Everything one workspace runs: connectors, engine, media, metrics."""

    def __init__(
        self,
        loaded: Loaded,
        session: aiohttp.ClientSession,
        store: StateStore,
        fetch_session: aiohttp.ClientSession,
        exposure: Exposure | None = None,
        media: aiohttp.ClientSession | None = None,
        files: aiohttp.ClientSession | None = None,
        ledger: Ledger | None = None,
        wire: WireClient | None = None,
    ) -> None:
        cfg = loaded.relay
        self.loaded = loaded
        self.exposure = exposure or Exposure(cfg.server.host, cfg.server.public_url, loaded.source)
        self.session = session
        self.fetch_session = fetch_session
        self.store = store
        self.ledger: Ledger = ledger or MemoryLedger()
        self.public_url = (cfg.server.public_url or f"http://{cfg.server.host}:{cfg.server.port}").rstrip("/")
        keys = [WorkspaceKey(k.id, k.secret.reveal().encode()) for k in cfg.workspace.keys]
        self.sealer = Sealer(cfg.workspace.id, keys)
        self.metrics = Metrics()
        self.connectors: dict[str, Connector] = {}
        self.media = MediaService(
            self.sealer,
            media or fetch_session,
            self.public_url,
            cfg.media.allowlist,
            cfg.media.max_bytes,
            cfg.media.link_ttl,
            self.connectors.get,
            cfg.media.max_streams,
            cfg.media.fetch_timeout,
            files,
        )
        router = Router(loaded.crm_of(), {n: i.manifest.kind for n, i in loaded.instances.items()})
        settings = EngineSettings(
            max_inflight=cfg.server.max_inflight,
            max_inflight_per_destination=cfg.server.max_inflight_per_destination,
            dedup_ttl=cfg.state.dedup_ttl,
            claim_ttl=cfg.state.claim_ttl,
        )
        guard = make_guard(loaded, self.ledger, self.connectors, self.metrics)
        self.engine = Engine(self.connectors, router, store, self.sealer, self.media, self.metrics, settings, guard)
        sessions = Sessions(session, fetch_session, self.media.trusted, self.media.session, wire)
        self.client = PlatformClient(sessions, HostPolicy(cfg.media.allowlist))
        self.tracing = start_tracing(cfg.tracing, self.sealer)
        if self.tracing is not None:
            self.engine.traced = self.tracing.send
        self.closing = asyncio.Event()
        try:
            self._build_all(loaded)
        except BaseException:
            if self.tracing is not None:
                self.tracing.shutdown()
            raise
        self.started: dict[str, bool] = {}
        self.state_ok = True
        self.state_probe = StateProbe(store)
        self._retry: asyncio.Task[None] | None = None
        self.hooks = HookTable(
            self.exposure,
            lambda name: shedder(self.engine, name),
            None if self.tracing is None else self.tracing.inbound,
        )

    def _build_all(self, loaded: Loaded) -> None:
        """Every configured connector; refused when one's local routes would be exposed unauthenticated."""
        for name, inst in loaded.instances.items():
            self.connectors[name] = self.build(name, inst)
        unlocked = [n for n, c in self.connectors.items() if any(isinstance(r, Route) and r.local for r in c.routes())]
        if unlocked and self.exposure.exposed:
            fix = "Configure its authentication"
            raise ConfigError([self.exposure.refusal(f"connectors.{n}", fix) for n in unlocked])

    def build(self, name: str, inst: Instance) -> Connector:
        """A new connector instance on this relay's sessions, engine and state (not started)."""
        cfg = self.loaded.relay
        client: PlatformClient = self.client
        deliver: Callable[[Message], Awaitable[Result]] = self.engine.deliver
        if self.tracing is not None:
            crm = inst.manifest.kind is ConnectorKind.CRM
            client, deliver = self.tracing.client(client, name, crm), self.tracing.deliver(self.engine.deliver, name)
        ctx = Context(
            instance=name,
            workspace=cfg.workspace.id,
            public_url=self.public_url,
            session=self.session,
            client=client,
            fetch_session=self.fetch_session,
            deliver=deliver,
            sealer=self.sealer,
            media=self.media,
            state=self.store,
            log=logging.getLogger(f"relay.connector.{name}"),
            max_body_bytes=cfg.server.max_body_bytes,
            exposure=self.exposure,
            metrics=self.metrics,
            closing=self.closing,
            messenger=partial(self._messenger, name),
        )
        return inst.manifest.factory(name, inst.config, ctx)

    def _messenger(self, crm: str, channel: str) -> Connector:
        """A messenger instance, for the CRM it is routed to."""
        return self.connectors[self.engine.router.messenger(crm, channel)]

    @property
    def ready(self) -> bool:
        return self.engine.accepting and self.state_ok and all(self.started.get(n) for n in self.connectors)

    async def watch_state(self, every: float = 60.0) -> None:
        """Keep checking that a shared state store still keeps nothing on disk; while it might, new messages
        are refused (503 state_store_persistent) and readiness is withdrawn."""
        check = getattr(self.store, "persistence_problems", None)
        while check is not None:
            await asyncio.sleep(every)
            try:
                problems = await check()
            except Exception as exc:
                log.warning("state store check failed", extra={"error": type(exc).__name__})
                continue
            if problems and self.state_ok:
                log.error("state store now writes to disk; intake paused", extra={"reason": "persistence_on"})
            elif not problems and not self.state_ok:
                log.warning(
                    "state store keeps nothing on disk again; intake resumed", extra={"reason": "persistence_off"}
                )
            self.state_ok = not problems
            self.engine.hold = None if self.state_ok else Reason.STATE_STORE_PERSISTENT

    async def start_connectors(self) -> None:
        """Start every connector in order; ones that fail are retried in the background (readyz says which)."""
        for name in self.connectors:
            await self._start(name)
        if not all(self.started.values()):
            self._retry = asyncio.create_task(self._retry_failed())

    async def _start(self, name: str) -> None:
        try:
            await self.connectors[name].start()
            self.started[name] = True
            log.info("connector started", extra={"connector": name})
        except Exception as exc:
            self.started[name] = False
            log.error("connector failed to start; retrying", extra={"connector": name, "error": type(exc).__name__})

    async def _retry_failed(self, first: float = 2.0, longest: float = 60.0) -> None:
        pause = first
        while not all(self.started.values()):
            await asyncio.sleep(pause)
            for name in [n for n, ok in self.started.items() if not ok]:
                await self._start(name)
            pause = min(longest, pause * 2)

    def stop_intake(self) -> None:
        """Refuse new messages and wake long-polling pages so shutdown is not held up."""
        self.engine.accepting = False
        self.closing.set()

    async def close_connectors(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        for name, conn in reversed(list(self.connectors.items())):
            try:
                await conn.close()
            except Exception as exc:
                log.warning("connector close failed", extra={"connector": name, "error": type(exc).__name__})
