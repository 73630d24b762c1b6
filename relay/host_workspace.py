"""One workspace served until SIGTERM: its server, its drain, and the collector settings (`relay run`, `relay host`)."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web

from relay import config as config_mod
from relay.app import RELAY_KEY, create_app
from relay.configwire import StoreWiring, open_store
from relay.deadline import guarded_site
from relay.exposure import Exposure
from relay.listen import bind_problem
from relay.logs import setup_logging

log = logging.getLogger("relay.cli")

GC_YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Keep what startup built out of every collection, and collect the young generation far less
    often: each collection walks every object of the messages in flight (~50-100 each). At the
    default 700 a relay with 64 in flight spent ~20 µs per message collecting; at 5,000 one with 256
    in flight still spent ~60 µs. At 50,000 it is ~2 µs, with pauses of up to ~30 ms at 256 in flight.
    No full collection first: start-up leaves ~60 cyclic objects, and collecting them cost 30-50 ms
    before the first request could be served. Collections paused for start-up resume here."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)
    gc.enable()


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when configured and installed; None is asyncio's own."""
    if name != "uvloop":
        return None
    try:
        import uvloop
    except ImportError:
        log.warning("uvloop is not installed; running on asyncio's event loop", extra={"reason": "uvloop_missing"})
        return None
    return uvloop.new_event_loop


async def serve(loaded: config_mod.Loaded, host: str, port: int, path: str | None = None) -> None:
    """Open the config store, listen, serve until SIGTERM or SIGINT, then close intake and drain within the
    grace period."""
    store, loaded = await open_store(loaded, Path(path) if path else None)
    wiring = StoreWiring(store) if store is not None else None
    exposure = Exposure(host, loaded.relay.server.public_url, loaded.source)
    app = await create_app(loaded, exposure=exposure, console=wiring.pages if wiring is not None else None)
    if wiring is not None:
        wiring.follow(app)
    relay = app[RELAY_KEY]
    server = loaded.relay.server
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=server.shutdown_grace)
    await runner.setup()
    slow = relay.metrics.key(connector="server", reason="header_timeout")
    site = guarded_site(
        runner, host, port, server.header_timeout, lambda: relay.metrics.inc_key("relay_rejected_total", slow)
    )
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    tune_gc()
    loop = asyncio.get_running_loop()
    log.info(
        "relay listening on http://%s:%s (workspace %s, %s event loop)",
        host,
        port,
        loaded.relay.workspace.id,
        type(loop).__module__.split(".")[0],
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    rereads: set[asyncio.Task[None]] = set()
    if wiring is not None:
        loop.add_signal_handler(signal.SIGHUP, lambda: _spawn(rereads, wiring.reread(relay)))
    await stop.wait()
    log.info("stopping: intake closed, draining in-flight work")
    relay.stop_intake()
    left = await relay.engine.drain(loaded.relay.server.shutdown_grace)
    if left:
        log.warning("grace period over with work in flight; sources will redeliver", extra={"count": left})
    await runner.cleanup()
    log.info("stopped")


def _spawn(tasks: set[asyncio.Task[None]], coro: Coroutine[Any, Any, None]) -> None:
    task = asyncio.create_task(coro)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


def run_workspace(
    loaded: config_mod.Loaded,
    host: str,
    port: int,
    path: str | None,
    banner: str | None = None,
    workspace: str | None = None,
) -> int:
    """Set up logging (`workspace` named on every line), check the address is free (1 and the fix on stderr
    when not), then serve until stopped."""
    cfg = loaded.relay
    setup_logging(cfg.logging.level, cfg.logging.format, loaded.secrets(), workspace=workspace)
    for warning in loaded.warnings:
        log.warning(warning)
    busy = bind_problem(host, port, path)
    if busy is not None:
        print(f"relay: {busy}", file=sys.stderr)
        return 1
    if banner:
        print(banner, file=sys.stderr)
    with asyncio.Runner(loop_factory=loop_factory(cfg.server.event_loop)) as runner:
        runner.run(serve(loaded, host, port, path))
    return 0
