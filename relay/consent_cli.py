"""`relay consent export | forget | digest`: the ledger for an auditor, and erasure of one subject."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from relay import config as config_mod
from relay.consent import Event, Ledger
from relay.consent_setup import ledger_path, make_ledger, make_subjects
from relay.errors import ConfigError


def _loaded(args: argparse.Namespace) -> config_mod.Loaded:
    path = args.config or os.environ.get("RELAY_CONFIG")
    if not path:
        raise ConfigError(["--config: name the workspace config file (or set RELAY_CONFIG)"])
    loaded = config_mod.load(Path(path))
    if loaded.relay.consent.backend == "memory":
        raise ConfigError([f'{path}: consent.backend = "memory" keeps nothing to export or forget'])
    if loaded.relay.consent.backend == "sqlite":
        file = ledger_path(loaded)
        if file is None or not file.exists():
            raise ConfigError([f"{path}: consent.path: no ledger at {file} yet; has the relay run with this config?"])
    return loaded


def _channel(loaded: config_mod.Loaded, name: str) -> str:
    """A messenger instance name or connector type, as the ledger's channel (the connector type)."""
    if name in loaded.instances:
        return loaded.instances[name].manifest.type
    types = {i.manifest.type for i in loaded.instances.values()}
    if name in types:
        return name
    known = ", ".join(sorted(set(loaded.instances) | types))
    raise ConfigError([f"--channel: '{name}' is neither a connector instance nor a type here; one of: {known}"])


def _address(args: argparse.Namespace) -> str:
    value: str = args.address
    if value == "-":
        value = sys.stdin.readline().strip()
    if not value:
        raise ConfigError(["--address: empty; give the address (or - to read it from standard input)"])
    return value


async def _with_ledger(loaded: config_mod.Loaded, work: Callable[[Ledger], Coroutine[Any, Any, int]]) -> int:
    ledger = make_ledger(loaded)
    await ledger.open()
    try:
        return await work(ledger)
    finally:
        await ledger.close()


def _row(kind: str, event: Event) -> dict[str, str]:
    at = datetime.fromtimestamp(event.at, UTC).isoformat().replace("+00:00", "Z")
    return {
        "record": kind,
        "subject": event.subject,
        "key_id": event.key_id,
        "state": event.state.value,
        "at": at,
        "how": event.how.value,
    }


async def _export(loaded: config_mod.Loaded, out: TextIO) -> int:
    async def work(ledger: Ledger) -> int:
        header = {
            "ledger": "relay-consent",
            "version": 1,
            "workspace": loaded.relay.workspace.id,
            "backend": ledger.kind,
            "exported_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "retention_days": loaded.relay.consent.retention_days,
        }
        out.write(json.dumps(header) + "\n")
        count = 0
        async for kind, event in ledger.export():
            out.write(json.dumps(_row(kind, event)) + "\n")
            count += 1
        return count

    return await _with_ledger(loaded, work)


def cmd_export(args: argparse.Namespace) -> int:
    loaded = _loaded(args)
    if args.out:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            count = asyncio.run(_export(loaded, out))
        print(f"{args.out}: {count} ledger rows written (digests, states, times, hows; no addresses)")
    else:
        asyncio.run(_export(loaded, sys.stdout))
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    loaded = _loaded(args)
    subjects = make_subjects(loaded).of(_channel(loaded, args.channel), _address(args))

    async def work(ledger: Ledger) -> int:
        return await ledger.forget(subjects)

    gone = asyncio.run(_with_ledger(loaded, work))
    print(f"consent ledger: {gone} row(s) of this subject removed (subject {subjects[0][:12]}…)")
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    loaded = _loaded(args)
    subjects = make_subjects(loaded)
    for digest in subjects.of(_channel(loaded, args.channel), _address(args)):
        print(digest)
    return 0


def add_cli(sub: Any) -> None:
    """Register `relay consent ...` on the main parser's subcommands."""
    consent = sub.add_parser("consent", help="the consent ledger (opt-outs)").add_subparsers(dest="sub", required=True)
    export = consent.add_parser("export", help="write the ledger for an auditor as JSON lines (no addresses)")
    export.add_argument("--out", help="file to write (created 0600; default: standard output)")
    forget = consent.add_parser("forget", help="remove one subject's rows (an erasure request)")
    digest = consent.add_parser("digest", help="print the subject digests of an address, to find it in an export")
    for cmd, func in ((export, cmd_export), (forget, cmd_forget), (digest, cmd_digest)):
        cmd.add_argument("--config", help="workspace TOML file (default: $RELAY_CONFIG)")
        cmd.set_defaults(func=func)
    for cmd in (forget, digest):
        cmd.add_argument("--channel", required=True, help="messenger instance name or connector type")
        cmd.add_argument("--address", required=True, help="the customer's address (phone, chat id); - reads stdin")
