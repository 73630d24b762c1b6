"""The `relay` command: run, config check, check, secrets, consent, admin."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import os
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

from relay import config as config_mod
from relay.admin.cli import add_cli as add_admin_cli
from relay.config_checks import name_problem
from relay.consent_cli import add_cli as add_consent_cli
from relay.errors import ConfigError
from relay.host_workspace import loop_factory, run_workspace
from relay.safety import disable_core_dumps
from relay.secret import SecretsFileError, load_secrets, master_key, save_secrets

__all__ = ["loop_factory", "main", "parser"]


def _load(path: str | None, host: str | None = None, port: int | None = None) -> config_mod.Loaded:
    if path:
        return config_mod.load(Path(path))
    from relay.sandbox import sandbox_config, sandbox_problems

    problems = sandbox_problems(host or "127.0.0.1", os.environ)
    if problems:
        raise ConfigError(problems)
    raw = sandbox_config(host or "127.0.0.1", port if port is not None else 8080)
    return config_mod.parse(raw, "<sandbox>")


def cmd_run(args: argparse.Namespace) -> int:
    """`relay run`: collections stay paused while the config and app load, until the workspace serves."""
    gc.disable()
    try:
        return _run(args)
    finally:
        gc.enable()


def _run(args: argparse.Namespace) -> int:
    disable_core_dumps()
    path = args.config or os.environ.get("RELAY_CONFIG")
    loaded = _load(path, args.host, args.port)
    host = args.host or loaded.relay.server.host
    port = args.port if args.port is not None else loaded.relay.server.port
    banner = (
        None if path else f"Relay sandbox: open http://{host}:{port}/ (customer chat and agent inbox). Ctrl-C stops."
    )
    return run_workspace(loaded, host, port, path, banner)


def cmd_host(args: argparse.Namespace) -> int:
    from relay.host import run_host

    return run_host(Path(args.workspaces), args.grace)


def cmd_config_check(args: argparse.Namespace) -> int:
    loaded = config_mod.load(Path(args.file))
    names = ", ".join(f"{n} ({i.manifest.type})" for n, i in loaded.instances.items())
    print(f"{args.file}: valid. Connectors: {names}. Routes: {len(loaded.relay.routes)}.")
    for warning in loaded.warnings:
        print(f"warning: {warning}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from relay.checkup import quiet, run_checks, table

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


def parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The command line; a connector's own commands are imported only when `argv` invokes them."""
    p = argparse.ArgumentParser(prog="relay", description="Messenger <-> CRM relay that stores no content.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a workspace (no config: the built-in sandbox)")
    run.add_argument("--config", help="workspace TOML file (default: $RELAY_CONFIG, else the sandbox)")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.set_defaults(func=cmd_run)
    hosting = sub.add_parser("host", help="run every workspace config of a directory, one process each")
    hosting.add_argument("--workspaces", required=True, help="directory of workspace TOML files (*.toml)")
    hosting.add_argument("--grace", type=float, default=30.0, help="seconds to wait for the workspaces to drain")
    hosting.set_defaults(func=cmd_host)
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
    add_admin_cli(sub)
    for ep in entry_points(group="relay.cli"):
        if list(argv[:1]) == [ep.name]:
            ep.load()(sub)
        else:
            sub.add_parser(ep.name, help=f"{ep.name} admin tools", add_help=False)
    return p


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    args = parser(words).parse_args(words)
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
