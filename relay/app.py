"""The relay process: one web app, one client session, connectors started and closed in order."""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web

from relay import hooks, notfound
from relay.client import HostPolicy, PlatformClient, Sessions
from relay.config import Loaded
from relay.connector import Connector, Context, Hook, Route
from relay.consent import Ledger, MemoryLedger
from relay.consent_setup import maintain, make_guard, make_ledger, open_ledger
from relay.credential import bearer_matches
from relay.engine import SHED, Engine, EngineSettings
from relay.errors import AuthError, ConfigError
from relay.exposure import Exposure, local_only
from relay.http import BODY_TIMEOUT, guarded, respond
from relay.inert import harden
from relay.media import MediaService
from relay.metrics import Metrics
from relay.netguard import NetGuard, guarded_session
from relay.pool import media_session, saturated
from relay.readiness import StateProbe
from relay.reasons import Reason
from relay.router import Router
from relay.seal import Sealer, WorkspaceKey
from relay.state import MemoryStateStore, StateStore
from relay.wirepool import WireClient

POOL_HEADROOM = 64  # client connections beyond max_inflight, for long polls and platform API calls (not media)
log = logging.getLogger("relay.app")

RELAY_KEY: web.AppKey[Relay] = web.AppKey("relay")


async def make_store(loaded: Loaded) -> StateStore:
    """The configured StateStore; Redis is checked for persistence before use."""
    cfg = loaded.relay.state
    if cfg.backend == "redis":
        from relay.state_redis import RedisStateStore

        prefix = f"relay:{loaded.relay.workspace.id}:"
        if cfg.sentinels:
            from relay.state_sentinel import connect_from

            return await connect_from(cfg, prefix)
        assert cfg.url is not None, "validated by StateConfig"
        return await RedisStateStore.connect(cfg.url.reveal(), prefix, cfg.assume_no_persistence)
    return MemoryStateStore(cfg.max_entries)


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
        for name, inst in loaded.instances.items():
            ctx = Context(
                instance=name,
                workspace=cfg.workspace.id,
                public_url=self.public_url,
                session=session,
                client=self.client,
                fetch_session=fetch_session,
                deliver=self.engine.deliver,
                sealer=self.sealer,
                media=self.media,
                state=store,
                log=logging.getLogger(f"relay.connector.{name}"),
                max_body_bytes=cfg.server.max_body_bytes,
                exposure=self.exposure,
                metrics=self.metrics,
            )
            self.connectors[name] = inst.manifest.factory(name, inst.config, ctx)
        unlocked = [n for n, c in self.connectors.items() if any(isinstance(r, Route) and r.local for r in c.routes())]
        if unlocked and self.exposure.exposed:
            fix = "Configure its authentication"
            raise ConfigError([self.exposure.refusal(f"connectors.{n}", fix) for n in unlocked])
        self.started: dict[str, bool] = {}
        self.closing = asyncio.Event()
        self.state_ok = True
        self.state_probe = StateProbe(store)
        self._retry: asyncio.Task[None] | None = None
        for conn in self.connectors.values():
            conn.ctx.closing = self.closing

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


def shedder(engine: Engine, connector: str) -> Callable[[], web.Response | None]:
    """Under overload, a 503 + Retry-After for new hook POSTs, decided before reading or parsing them."""

    def refuse() -> web.Response | None:
        reason = engine.shed_reason(connector)
        if reason is None:
            return None
        engine.metrics.inc("relay_rejected_total", connector=connector, reason=reason)
        return respond(SHED[reason])

    return refuse


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    relay = request.app[RELAY_KEY]
    unreachable = await relay.state_probe.problem()
    pool_full = saturated(relay.session)
    problems = {name: found for name, conn in relay.connectors.items() if (found := conn.health())}
    ready = relay.ready and unreachable is None and not pool_full and not problems
    body: dict[str, object] = {
        "ready": ready,
        "accepting": relay.engine.accepting,
        "state_store_ok": relay.state_ok,
        "state_store_reachable": unreachable is None,
        "delivery_pool_ok": not pool_full,
        "connectors": relay.started,
        "problems": problems,
    }
    if unreachable is not None:
        body["reason"] = unreachable
    elif pool_full:
        body["reason"] = "delivery_pool_saturated: every outbound connection is in use and deliveries are queued"
    return web.json_response(body, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    relay = request.app[RELAY_KEY]
    token = relay.loaded.relay.server.metrics_token
    if token is not None and not bearer_matches(token, request.headers.get("Authorization")):
        raise AuthError("missing or wrong bearer token (server.metrics_token)", 401)
    text = relay.metrics.render()
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


PAGE_HEAD = '<!doctype html><html lang="en"><meta charset=utf-8><link rel=icon href="data:,"><title>Relay</title>'


async def index(request: web.Request) -> web.Response:
    """The landing page; it names the workspace and its pages only while /metrics is public too."""
    relay = request.app[RELAY_KEY]
    if relay.loaded.relay.server.metrics_token is not None:
        return web.Response(text=f"{PAGE_HEAD}<main><h1>Relay is running</h1></main>", content_type="text/html")
    links = []
    for name, conn in relay.connectors.items():
        for route in conn.routes():
            if isinstance(route, Route) and route.public and route.method == "GET" and route.path == "/":
                label = html.escape(f"{conn.manifest.summary} ({name})")
                links.append(f'<li><a href="/hooks/{html.escape(name)}/">{label}</a></li>')
    page = (
        f"{PAGE_HEAD}<style>body{{font:16px system-ui;margin:3em auto;max-width:40em}}</style><main>"
        f"<h1>Relay is running</h1><p>Workspace <b>{html.escape(relay.loaded.relay.workspace.id)}</b>.</p>"
        f"<ul>{''.join(links) or '<li>No pages: this workspace has only webhook connectors.</li>'}</ul>"
        "<p><a href=/healthz>/healthz</a> · <a href=/readyz>/readyz</a> · <a href=/metrics>/metrics</a></p></main>"
    )
    return web.Response(text=page, content_type="text/html")


async def create_app(
    loaded: Loaded, store: StateStore | None = None, exposure: Exposure | None = None, ledger: Ledger | None = None
) -> web.Application:
    """Build the web app for a validated workspace; the consent ledger opens and connectors start with the
    app, and close with it. `exposure` is where it will listen (default: server.host); admin pages refuse
    to run unlocked beyond loopback."""
    store = store or await make_store(loaded)
    app = web.Application(client_max_size=loaded.relay.server.max_body_bytes)
    app[BODY_TIMEOUT] = loaded.relay.server.body_timeout
    timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=30)
    pool = aiohttp.TCPConnector(limit=loaded.relay.server.max_inflight + POOL_HEADROOM)
    session = aiohttp.ClientSession(timeout=timeout, connector=pool)
    fetch = untrusted_session(loaded, timeout)
    cfg = loaded.relay
    media = media_session(cfg.media.max_streams, cfg.media.fetch_timeout, NetGuard.of(cfg.network.allow_private))
    files = media_session(cfg.media.max_streams, cfg.media.fetch_timeout, None)
    wire = WireClient(cfg.server.max_inflight + POOL_HEADROOM)
    try:
        relay = Relay(loaded, session, store, fetch, exposure, media, files, ledger or make_ledger(loaded), wire)
    except BaseException:
        for opened in (session, fetch, media, files, wire):
            await opened.close()
        await store.close()
        raise
    app[RELAY_KEY] = relay
    for path, handler in (
        ("/", index),
        ("/healthz", healthz),
        ("/readyz", readyz),
        ("/metrics", metrics),
        ("/media/{token}", relay.media.handle),
    ):
        app.router.add_get(path, guarded(handler), allow_head=False)
    for name, conn in relay.connectors.items():
        for route in conn.routes():
            refuse = shedder(relay.engine, name) if route.method == "POST" else None
            if isinstance(route, Hook):
                serve = hooks.handler(route, conn.ctx)
            else:
                serve = local_only(route.handler, relay.exposure) if route.local else route.handler
            app.router.add_route(route.method, f"/hooks/{name}{route.path}", guarded(serve, refuse))
    app.router.add_route("*", notfound.PATH, notfound.wrong_hook_path(relay.connectors))

    async def on_shutdown(app: web.Application) -> None:
        relay.stop_intake()

    app.on_shutdown.append(on_shutdown)
    app.on_response_prepare.append(harden)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        try:
            await open_ledger(loaded, relay.ledger)
        except BaseException:
            for opened in (session, fetch, media, files, wire):
                await opened.close()
            await relay.store.close()
            raise
        await relay.start_connectors()
        watcher = asyncio.create_task(relay.watch_state())
        keeper = asyncio.create_task(maintain(relay.ledger))
        yield
        watcher.cancel()
        keeper.cancel()
        await relay.engine.drain(loaded.relay.server.shutdown_grace)
        await relay.close_connectors()
        await session.close()
        await fetch.close()
        await media.close()
        await files.close()
        await wire.close()
        await relay.store.close()
        await relay.ledger.close()

    app.cleanup_ctx.append(lifecycle)
    return app
