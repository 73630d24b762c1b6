"""The web app of a workspace: its routes and endpoints, and the order its sessions and connectors open and close."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from relay import notfound
from relay.config import Loaded
from relay.connector import Route
from relay.consent import Ledger
from relay.consent_setup import maintain, make_ledger, open_ledger
from relay.credential import bearer_matches
from relay.errors import AuthError, ConfigError
from relay.exposure import Exposure
from relay.hooktable import shedder
from relay.http import BODY_TIMEOUT, guarded
from relay.inert import harden
from relay.netguard import NetGuard
from relay.pool import media_session, saturated
from relay.state import StateStore
from relay.wirepool import WireClient
from relay.workspace import POOL_HEADROOM, Relay, make_store, untrusted_session

if TYPE_CHECKING:
    from relay.admin.site import Extension

RELAY_KEY: web.AppKey[Relay] = web.AppKey("relay")
__all__ = ["RELAY_KEY", "Relay", "create_app", "make_store", "shedder", "untrusted_session"]


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readiness(relay: Relay) -> dict[str, object]:
    """What /readyz answers: whether the relay is ready, and each part's state."""
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
    return body


async def readyz(request: web.Request) -> web.Response:
    body = await readiness(request.app[RELAY_KEY])
    return web.json_response(body, status=200 if body["ready"] else 503)


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
    loaded: Loaded,
    store: StateStore | None = None,
    exposure: Exposure | None = None,
    ledger: Ledger | None = None,
    admin_pages: Sequence[Extension] = (),
    console: Callable[[Relay], Extension] | None = None,
) -> web.Application:
    """Build the web app for a validated workspace; the consent ledger opens and connectors start with the
    app, and close with it. `exposure` is where it will listen (default: server.host); admin pages refuse
    to run unlocked beyond loopback."""
    exposure = exposure or Exposure(loaded.relay.server.host, loaded.relay.server.public_url, loaded.source)
    if loaded.relay.admin.methods:
        from relay.admin.site import start_problems

        if problems := start_problems(loaded, exposure):
            raise ConfigError(problems)
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
        relay.hooks.mount(name, conn)
        for route in conn.routes():
            app.router.add_route(
                route.method, f"/hooks/{name}{route.path}", relay.hooks.fixed(name, route.method, route.path)
            )
    app.router.add_route("*", notfound.PATH, notfound.wrong_hook_path(relay.connectors, relay.hooks.dispatch))

    async def on_shutdown(app: web.Application) -> None:
        relay.stop_intake()

    if loaded.relay.admin.methods:
        from relay.admin.site import mount_admin

        mount_admin(
            app,
            loaded,
            relay.store,
            relay.public_url,
            lambda: readiness(relay),
            relay.session,
            [*admin_pages, *([console(relay)] if console else [])],
        )
    app.on_shutdown.append(on_shutdown)
    app.on_response_prepare.append(harden)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        try:
            await open_ledger(loaded, relay.ledger)
        except BaseException:
            for opened in (session, fetch, media, files, wire):
                await opened.close()
            await relay.store.close()
            if relay.tracing is not None:
                await asyncio.to_thread(relay.tracing.shutdown)
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
        if relay.tracing is not None:
            await asyncio.to_thread(relay.tracing.shutdown)

    app.cleanup_ctx.append(lifecycle)
    return app
