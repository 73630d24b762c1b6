"""The consent ledger in one SQLite file (one replica): created 0600, synchronous writes, secure delete;
the standard library's sqlite3 on one worker thread, and the current states mirrored in memory."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from relay.consent import Event, How, State
from relay.errors import ConfigError

T = TypeVar("T")

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS consent_state (workspace TEXT NOT NULL, subject TEXT NOT NULL, "
    "key_id TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN ('opted_out', 'opted_in')), at REAL NOT NULL, "
    "how TEXT NOT NULL, PRIMARY KEY (workspace, subject)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS consent_events (id INTEGER PRIMARY KEY, workspace TEXT NOT NULL, "
    "subject TEXT NOT NULL, key_id TEXT NOT NULL, state TEXT NOT NULL, at REAL NOT NULL, how TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS consent_events_subject ON consent_events (workspace, subject)",
)
_UPSERT = (
    "INSERT INTO consent_state (workspace, subject, key_id, state, at, how) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (workspace, subject) DO UPDATE SET key_id = excluded.key_id, state = excluded.state, "
    "at = excluded.at, how = excluded.how "
    "WHERE consent_state.at <= excluded.at AND consent_state.state <> excluded.state RETURNING subject"
)
_COLUMNS = "subject, key_id, state, at, how"


def _event(row: Sequence[Any]) -> Event:
    return Event(str(row[0]), str(row[1]), State(row[2]), float(row[3]), How(row[4]))


def create_private(path: Path) -> None:
    """The file (and its directory) readable by the relay's user only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


class SqliteLedger:
    """One workspace's ledger in a local file. Several replicas need the PostgreSQL ledger instead."""

    kind = "sqlite"

    def __init__(self, path: Path, workspace: str, retention: float = 4 * 365.25 * 86400) -> None:
        self.path = path
        self.workspace = workspace
        self.retention = retention
        self._db: sqlite3.Connection | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._state: dict[str, Event] = {}

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        assert self._db is not None and self._pool is not None, "ledger not open"
        db = self._db
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, db)

    async def open(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="consent-sqlite")
        try:
            self._db = await asyncio.get_running_loop().run_in_executor(self._pool, self._connect)
        except (OSError, sqlite3.Error) as exc:
            self._pool.shutdown()
            self._pool = None
            detail = getattr(exc, "strerror", None) or type(exc).__name__
            raise ConfigError(
                [
                    f"consent.path: cannot open the consent ledger at {self.path} ({detail}); give the relay a "
                    'writable directory (consent.path or RELAY_DATA_DIR), or use backend = "postgres"'
                ]
            ) from None
        rows = await self._run(
            lambda db: db.execute(
                f"SELECT {_COLUMNS} FROM consent_state WHERE workspace = ?", (self.workspace,)
            ).fetchall()
        )
        self._state = {e.subject: e for e in map(_event, rows)}

    def _connect(self) -> sqlite3.Connection:
        create_private(self.path)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
        for pragma in ("synchronous = FULL", "secure_delete = ON", "foreign_keys = ON"):
            db.execute(f"PRAGMA {pragma}")
        with db:
            for statement in SCHEMA:
                db.execute(statement)
        return db

    async def close(self) -> None:
        if self._db is not None:
            await self._run(lambda db: db.close())
            self._db = None
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    async def record(self, event: Event) -> bool:
        ws = self.workspace

        def write(db: sqlite3.Connection) -> bool:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = (ws, event.subject, event.key_id, event.state.value, event.at, event.how.value)
                changed = db.execute(_UPSERT, row).fetchone() is not None
                if changed:
                    db.execute(
                        "INSERT INTO consent_events (workspace, subject, key_id, state, at, how) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        row,
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return changed

        changed = await self._run(write)
        if changed:
            self._state[event.subject] = event
        return changed

    async def state(self, subjects: Sequence[str]) -> Event | None:
        found = [e for s in subjects if (e := self._state.get(s)) is not None]
        return max(found, key=lambda e: e.at) if found else None

    async def forget(self, subjects: Sequence[str]) -> int:
        marks = ",".join("?" * len(subjects))
        args = (self.workspace, *subjects)

        def delete(db: sqlite3.Connection) -> int:
            with db:
                gone = db.execute(f"DELETE FROM consent_state WHERE workspace = ? AND subject IN ({marks})", args)
                events = db.execute(f"DELETE FROM consent_events WHERE workspace = ? AND subject IN ({marks})", args)
                return gone.rowcount + events.rowcount

        gone = await self._run(delete)
        for subject in subjects:
            self._state.pop(subject, None)
        return gone

    async def prune(self, now: float | None = None) -> int:
        horizon = (now or time.time()) - self.retention
        args = (self.workspace, horizon)

        def delete(db: sqlite3.Connection) -> int:
            with db:
                events = db.execute("DELETE FROM consent_events WHERE workspace = ? AND at < ?", args)
                states = db.execute(
                    "DELETE FROM consent_state WHERE workspace = ? AND at < ? AND state = 'opted_in'", args
                )
                return events.rowcount + states.rowcount

        gone = await self._run(delete)
        self._state = {s: e for s, e in self._state.items() if e.state is State.OPTED_OUT or e.at >= horizon}
        return gone

    async def export(self) -> AsyncIterator[tuple[str, Event]]:
        for table, kind, order in (("consent_state", "state", "subject"), ("consent_events", "event", "id")):
            query = f"SELECT {_COLUMNS} FROM {table} WHERE workspace = ? ORDER BY {order}"

            def read(db: sqlite3.Connection, query: str = query) -> list[Any]:
                return db.execute(query, (self.workspace,)).fetchall()

            for row in await self._run(read):
                yield kind, _event(row)
