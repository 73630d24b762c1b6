"""The consent ledger in PostgreSQL (several replicas): every check asks the database, so all replicas
agree at once; tables created on first start under an advisory lock."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg

from relay import pg
from relay.consent import Event, How, State

_LOCK = 0x7265_6C61_7963  # "relayc": serialises table creation between replicas starting together


def _event(row: Any) -> Event:
    return Event(str(row["subject"]), str(row["key_id"]), State(row["state"]), float(row["at"]), How(row["how"]))


def _count(status: str) -> int:
    """Rows touched, from a command status such as "DELETE 3"."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class PostgresLedger:
    """One workspace's rows in `<schema>.consent_state` and `<schema>.consent_events`."""

    kind = "postgres"

    def __init__(self, url: str, workspace: str, schema: str = "relay", retention: float = 4 * 365.25 * 86400) -> None:
        if not schema.isidentifier() or not schema.isascii():
            raise ValueError("schema must be a plain identifier")
        self._url = url
        self.workspace = workspace
        self.schema = schema
        self.retention = retention
        self._pool: asyncpg.Pool | None = None
        self._state_t = f'"{schema}".consent_state'
        self._events_t = f'"{schema}".consent_events'

    def __repr__(self) -> str:
        return f"PostgresLedger(schema={self.schema!r}, url=***)"

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "ledger not open"
        return self._pool

    async def open(self) -> None:
        self._pool = await pg.connect(self._url, "consent.url", "consent ledger database", 5)
        tables = (
            f"CREATE TABLE IF NOT EXISTS {self._state_t} (workspace text NOT NULL, subject text NOT NULL, "
            "key_id text NOT NULL, state text NOT NULL CHECK (state IN ('opted_out', 'opted_in')), "
            "at double precision NOT NULL, how text NOT NULL, PRIMARY KEY (workspace, subject))",
            f"CREATE TABLE IF NOT EXISTS {self._events_t} (id bigserial PRIMARY KEY, workspace text NOT NULL, "
            "subject text NOT NULL, key_id text NOT NULL, state text NOT NULL, at double precision NOT NULL, "
            "how text NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS consent_events_subject ON {self._events_t} (workspace, subject)",
        )
        async with pg.schema(self.pool, self.schema, _LOCK, tables):
            pass

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def record(self, event: Event) -> bool:
        row = (self.workspace, event.subject, event.key_id, event.state.value, event.at, event.how.value)
        async with self.pool.acquire() as conn, conn.transaction():
            changed = await conn.fetchval(
                f"INSERT INTO {self._state_t} AS s (workspace, subject, key_id, state, at, how) "
                "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace, subject) DO UPDATE SET "
                "key_id = excluded.key_id, state = excluded.state, at = excluded.at, how = excluded.how "
                "WHERE s.at <= excluded.at AND s.state <> excluded.state RETURNING subject",
                *row,
            )
            if changed is not None:
                await conn.execute(
                    f"INSERT INTO {self._events_t} (workspace, subject, key_id, state, at, how) "
                    "VALUES ($1, $2, $3, $4, $5, $6)",
                    *row,
                )
        return changed is not None

    async def state(self, subjects: Sequence[str]) -> Event | None:
        row = await self.pool.fetchrow(
            f"SELECT subject, key_id, state, at, how FROM {self._state_t} "
            "WHERE workspace = $1 AND subject = ANY($2::text[]) ORDER BY at DESC LIMIT 1",
            self.workspace,
            list(subjects),
        )
        return None if row is None else _event(row)

    async def forget(self, subjects: Sequence[str]) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            where = "WHERE workspace = $1 AND subject = ANY($2::text[])"
            gone = await conn.execute(f"DELETE FROM {self._state_t} {where}", self.workspace, list(subjects))
            events = await conn.execute(f"DELETE FROM {self._events_t} {where}", self.workspace, list(subjects))
        return _count(gone) + _count(events)

    async def prune(self, now: float | None = None) -> int:
        horizon = (now or time.time()) - self.retention
        async with self.pool.acquire() as conn, conn.transaction():
            events = await conn.execute(
                f"DELETE FROM {self._events_t} WHERE workspace = $1 AND at < $2", self.workspace, horizon
            )
            states = await conn.execute(
                f"DELETE FROM {self._state_t} WHERE workspace = $1 AND at < $2 AND state = 'opted_in'",
                self.workspace,
                horizon,
            )
        return _count(events) + _count(states)

    async def export(self) -> AsyncIterator[tuple[str, Event]]:
        columns = "subject, key_id, state, at, how"
        for table, kind, order in ((self._state_t, "state", "subject"), (self._events_t, "event", "id")):
            async with self.pool.acquire() as conn, conn.transaction():
                query = f"SELECT {columns} FROM {table} WHERE workspace = $1 ORDER BY {order}"
                async for row in conn.cursor(query, self.workspace):
                    yield kind, _event(row)
