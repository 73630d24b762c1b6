"""Builds the consent ledger, its subject keys and the engine's guard from a validated workspace."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from relay.config import Loaded
from relay.connector import Connector
from relay.consent import Ledger, MemoryLedger, Subjects
from relay.guard import Guard, Replies
from relay.metrics import Metrics

DATA_DIR_ENV = "RELAY_DATA_DIR"
FILE_NAME = "consent.sqlite3"
log = logging.getLogger("relay.consent")


def ledger_path(loaded: Loaded) -> Path | None:
    """The SQLite file: `consent.path` (relative to the config file), else $RELAY_DATA_DIR, else
    relay-data/ next to the config file; None for a workspace with no config file (the sandbox)."""
    path = loaded.relay.consent.path
    if path is not None:
        return path if path.is_absolute() or loaded.base is None else loaded.base / path
    if loaded.base is None:
        return None
    data = os.environ.get(DATA_DIR_ENV)
    return Path(data) / FILE_NAME if data else loaded.base / "relay-data" / FILE_NAME


def make_ledger(loaded: Loaded) -> Ledger:
    """The configured ledger, not yet open."""
    cfg = loaded.relay.consent
    workspace = loaded.relay.workspace.id
    retention = cfg.retention_days * 86400.0
    if cfg.backend == "postgres":
        from relay.consent_pg import PostgresLedger

        assert cfg.url is not None, "validated by ConsentConfig"
        return PostgresLedger(cfg.url.reveal(), workspace, cfg.db_schema, retention)
    path = ledger_path(loaded)
    if cfg.backend == "memory" or path is None:
        return MemoryLedger(retention)
    from relay.consent_sqlite import SqliteLedger

    return SqliteLedger(path, workspace, retention)


def make_subjects(loaded: Loaded) -> Subjects:
    """Subject digests under `consent.key` when set, else under the workspace keys (first records)."""
    cfg = loaded.relay.consent
    workspace = loaded.relay.workspace.id
    if cfg.key is not None:
        return Subjects(workspace, [("consent", cfg.key.reveal().encode())])
    return Subjects(workspace, [(k.id, k.secret.reveal().encode()) for k in loaded.relay.workspace.keys])


def make_guard(loaded: Loaded, ledger: Ledger, connectors: Mapping[str, Connector], metrics: Metrics) -> Guard:
    cfg = loaded.relay.consent
    top = loaded.relay.minimise
    policies = {m: top.merged(r.minimise).policy() for r in loaded.relay.routes for m in r.from_}
    replies = Replies(cfg.opt_out_reply, cfg.opt_in_reply, cfg.help_reply)
    return Guard(ledger, make_subjects(loaded), connectors, metrics, cfg.keywords(), replies, policies)


def problems(loaded: Loaded, ledger: Ledger) -> list[str]:
    """What an admin should know about where consent is kept."""
    found = []
    if ledger.kind == "memory" and loaded.base is not None:
        found.append('consent.backend = "memory": opt-outs are forgotten at restart; use "sqlite" or "postgres"')
    if loaded.relay.state.backend == "redis" and ledger.kind != "postgres":
        found.append(
            f'consent.backend = "{ledger.kind}" while the state store is shared: with several replicas an opt-out '
            'recorded on one is not seen by the others; set backend = "postgres"'
        )
    return found


async def open_ledger(loaded: Loaded, ledger: Ledger) -> None:
    """Open the ledger, drop what outlived the retention, and say what an admin should know."""
    await ledger.open()
    await ledger.prune()
    for problem in problems(loaded, ledger):
        log.warning(problem, extra={"reason": "consent_config"})


async def maintain(ledger: Ledger, every: float = 86400.0) -> None:
    """Prune the ledger once a day while the relay runs."""
    while True:
        await asyncio.sleep(every)
        try:
            await ledger.prune()
        except Exception as exc:
            log.warning("consent ledger prune failed", extra={"error": type(exc).__name__})
