"""The `relay` command: run, config check, check, secrets."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import logging
import os
import signal
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

from aiohttp import web

from relay import config as config_mod
from relay.app import RELAY_KEY, create_app
from relay.checkup import quiet, run_checks, table
from relay.config_checks import name_problem
from relay.configwire import follow, open_store
from relay.consent_cli import add_cli as add_consent_cli
from relay.deadline import guarded_site
from relay.errors import ConfigError
from relay.exposure import Exposure
from relay.listen import bind_problem
from relay.logs import setup_logging
from relay.safety import disable_core_dumps
from relay.sandbox import sandbox_config, sandbox_problems
from relay.secret import SecretsFileError, load_secrets, master_key, save_secrets

log = logging.getLogger("relay.cli")


def _load(path: str | None, host: str | None = None, port: int | None = None) -> config_mod.Loaded:
    if path:
        return config_mod.load(Path(path))
    problems = sandbox_problems(host or "127.0.0.1", os.environ)
    if problems:
        raise ConfigError(problems)
    raw = sandbox_config(host or "127.0.0.1", port if port is not None else 8080)
    return config_mod.parse(raw, "<sandbox>")


async def _serve(loaded: config_mod.Loaded, host: str, port: int, path: str | None = None) -> None:
    store, loaded = await open_store(loaded, Path(path) if path else None)
    app = await create_app(loaded, exposure=Exposure(host, loaded.relay.server.public_url, loaded.source))
    if store is not None:
        follow(app, store)
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
    await stop.wait()
    log.info("stopping: intake closed, draining in-flight work")
    relay.stop_intake()
    left = await relay.engine.drain(loaded.relay.server.shutdown_grace)
    if left:
        log.warning("grace period over with work in flight; sources will redeliver", extra={"count": left})
    await runner.cleanup()
    log.info("stopped")


GC_YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Keep what startup built out of every collection, and collect the young generation far less
    often: each collection walks every object of the messages in flight (~50-100 each). At the
    default 700 a relay with 64 in flight spent ~20 µs per message collecting; at 5,000 one with 256
    in flight still spent ~60 µs. At 50,000 it is ~2 µs, with pauses of up to ~30 ms at 256 in flight."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)


def cmd_run(args: argparse.Namespace) -> int:
    disable_core_dumps()
    path = args.config or os.environ.get("RELAY_CONFIG")
    loaded = _load(path, args.host, args.port)
    cfg = loaded.relay
    setup_logging(cfg.logging.level, cfg.logging.format, loaded.secrets())
    for warning in loaded.warnings:
        log.warning(warning)
    host = args.host or cfg.server.host
    port = args.port if args.port is not None else cfg.server.port
    busy = bind_problem(host, port, path)
    if busy is not None:
        print(f"relay: {busy}", file=sys.stderr)
        return 1
    if not path:
        print(
            f"Relay sandbox: open http://{host}:{port}/ (customer chat and agent inbox). Ctrl-C stops.", file=sys.stderr
        )
    with asyncio.Runner(loop_factory=loop_factory(cfg.server.event_loop)) as runner:
        runner.run(_serve(loaded, host, port, path))
    return 0


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


def cmd_config_check(args: argparse.Namespace) -> int:
    loaded = config_mod.load(Path(args.file))
    names = ", ".join(f"{n} ({i.manifest.type})" for n, i in loaded.instances.items())
    print(f"{args.file}: valid. Connectors: {names}. Routes: {len(loaded.relay.routes)}.")
    for warning in loaded.warnings:
        print(f"warning: {warning}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    loaded = config_mod.load(Path(args.file))
    with quiet():
        rows = asyncio.run(run_checks(loaded))
    print(table(rows))
    return 1 if any(r.ok is False for r in rows) else 0


def _secrets_path(args: argparse.Namespace) -> Path:
    return Path(args.file or os.environ.get("RELAY_SECRETS_FILE") or "relay-secrets.json")


def cmd_secrets_set(args: argparse.Namespace) -> int:
    bad_name = name_problem(args.name)
    if bad_name is not None:
        print(f"relay secrets set: {bad_name}; nothing stored", file=sys.stderr)
        return 2
    path, master = _secrets_path(args), master_key()
    values = load_secrets(path, master) if path.exists() else {}
    value = getpass.getpass(f"Value for {args.name}: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if not value:
        print("relay secrets set: empty value; nothing stored", file=sys.stderr)
        return 2
    values[args.name] = value
    save_secrets(path, master, values)
    print(f"{path}: {args.name} stored (value ***). Reference it in the config as ${{{args.name}}}.")
    return 0


def cmd_secrets_list(args: argparse.Namespace) -> int:
    path = _secrets_path(args)
    values = load_secrets(path, master_key()) if path.exists() else {}
    for name in sorted(values):
        print(f"{name} = ***")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="relay", description="Messenger <-> CRM relay that stores no content.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a workspace (no config: the built-in sandbox)")
    run.add_argument("--config", help="workspace TOML file (default: $RELAY_CONFIG, else the sandbox)")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.set_defaults(func=cmd_run)
    cfg = sub.add_parser("config", help="configuration tools").add_subparsers(dest="sub", required=True)
    chk = cfg.add_parser("check", help="validate a config file offline")
    chk.add_argument("file")
    chk.set_defaults(func=cmd_config_check)
    live = sub.add_parser("check", help="validate, then reach each connector's platform with its credentials")
    live.add_argument("file")
    live.set_defaults(func=cmd_check)
    sec = sub.add_parser("secrets", help="the encrypted secrets file").add_subparsers(dest="sub", required=True)
    sset = sec.add_parser("set", help="store a secret (value read from the terminal or stdin)")
    sset.add_argument("name")
    sset.add_argument("--file", help="secrets file (default: $RELAY_SECRETS_FILE or relay-secrets.json)")
    sset.set_defaults(func=cmd_secrets_set)
    slist = sec.add_parser("list", help="list secret names")
    slist.add_argument("--file")
    slist.set_defaults(func=cmd_secrets_list)
    add_consent_cli(sub)
    for ep in entry_points(group="relay.cli"):
        ep.load()(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result: int = args.func(args)
        return result
    except ConfigError as exc:
        print(f"relay: configuration has {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    except SecretsFileError as exc:
        print(f"relay: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"relay: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
