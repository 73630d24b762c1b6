"""The admin audit log in PostgreSQL, beside the config store: every replica appends to one table, so the
console shows what was done on any of them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg
from aiohttp import web

from relay import pg
from relay.admin.audit import make_entry, matches
from relay.admin.principal import Principal

_LOCK = 0x7265_6C61_7961_7564  # "relayaud": serialises table creation between replicas starting together
_BATCH = 500


class PostgresAudit:
    """One workspace's entries in `<schema>.relay_audit`; the relay only ever inserts and reads them."""

    def __init__(self, dsn: str, workspace: str, schema: str = "public") -> None:
        self._dsn = dsn
        self.workspace = workspace
        self.schema = schema
        self._table = f'"{schema}".relay_audit'
        self._pool: asyncpg.Pool | None = None

    def __repr__(self) -> str:
        return f"PostgresAudit(schema={self.schema!r}, dsn=***)"

    async def open(self) -> None:
        """Connect and create the table if missing."""
        self._pool = await pg.connect(self._dsn, "config_store.dsn", "config database (for the audit log)", 10)
        table = (
            f"CREATE TABLE IF NOT EXISTS {self._table} (id bigserial PRIMARY KEY, workspace text NOT NULL, "
            "entry jsonb NOT NULL)"
        )
        index = f"CREATE INDEX IF NOT EXISTS relay_audit_workspace ON {self._table} (workspace, id)"
        async with pg.schema(self._pool, self.schema, _LOCK, [table, index]):
            pass

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def record(
        self,
        action: str,
        who: Principal | None,
        address: str | None,
        keys: Sequence[str] = (),
        outcome: str = "ok",
    ) -> None:
        """Insert one entry; if the database cannot take it, the action is refused (503), not done unaudited."""
        entry = json.dumps(make_entry(action, who, address, keys, outcome), separators=(",", ":"))
        try:
            assert self._pool is not None, "audit log not open"
            await self._pool.execute(
                f"INSERT INTO {self._table} (workspace, entry) VALUES ($1, $2::jsonb)", self.workspace, entry
            )
        except (OSError, asyncpg.PostgresError, TimeoutError, asyncpg.InterfaceError):
            raise web.HTTPServiceUnavailable(text="the audit log cannot be written; nothing was done") from None

    async def entries(self, text: str = "", limit: int | None = 500) -> list[dict[str, Any]]:
        """Entries containing `text`, newest first (at most `limit`), read in batches from the newest."""
        assert self._pool is not None, "audit log not open"
        chosen: list[dict[str, Any]] = []
        before = None
        while limit is None or len(chosen) < limit:
            rows = await self._pool.fetch(
                f"SELECT id, entry::text AS entry FROM {self._table} WHERE workspace = $1 "
                "AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
                self.workspace,
                before,
                _BATCH,
            )
            for row in rows:
                found = json.loads(row["entry"])
                if isinstance(found, dict) and matches(found, text):
                    chosen.append(found)
            if len(rows) < _BATCH:
                break
            before = rows[-1]["id"]
        return chosen if limit is None else chosen[:limit]
