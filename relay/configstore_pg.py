"""The configuration in PostgreSQL for several replicas: versioned documents with encrypted secrets, and
LISTEN/NOTIFY so every replica reloads a change."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import asyncpg

from relay import pg
from relay.configstore import Changed, Document
from relay.errors import ConfigError
from relay.secret import master_key, open_values, seal_values

CHANNEL = "relay_config"
_LOCK = 0x7265_6C61_7963_6667  # serialises table creation between replicas starting together
log = logging.getLogger("relay.configstore")


class PostgresStore:
    """One workspace's versions in `<schema>.relay_config`; the newest is current, `keep` are kept."""

    def __init__(
        self, dsn: str, workspace: str, schema: str = "public", keep: int = 10, source: str = "<postgres>"
    ) -> None:
        if not schema.isidentifier() or not schema.isascii():
            raise ValueError("schema must be a plain identifier")
        self._dsn = dsn
        self.workspace = workspace
        self.schema = schema
        self.keep = keep
        self.source = source
        self.base: Path | None = None
        self._table = f'"{schema}".relay_config'
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"PostgresStore(schema={self.schema!r}, dsn=***)"

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "config store not open"
        return self._pool

    async def open(self, seed: Document | None = None) -> None:
        """Connect, create the table if missing, and store `seed` as the first version of an empty workspace."""
        self._pool = await pg.connect(self._dsn, "config_store.dsn", "config database", 10)
        table = (
            f"CREATE TABLE IF NOT EXISTS {self._table} (version bigserial PRIMARY KEY, workspace text NOT NULL, "
            "document jsonb NOT NULL, secrets bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        )
        async with pg.schema(self.pool, self.schema, _LOCK, [table]) as conn:
            found = await conn.fetchval(f"SELECT count(*) FROM {self._table} WHERE workspace = $1", self.workspace)
            if not found and seed is not None:
                await self._insert(conn, seed)

    async def _insert(self, conn: Any, doc: Document) -> int:
        sealed = seal_values(master_key(), dict(doc.secrets)) if doc.secrets else b""
        version: int = await conn.fetchval(
            f"INSERT INTO {self._table} (workspace, document, secrets) VALUES ($1, $2::jsonb, $3) RETURNING version",
            self.workspace,
            json.dumps(doc.raw),
            sealed,
        )
        await conn.execute(
            f"DELETE FROM {self._table} WHERE workspace = $1 AND version NOT IN "
            f"(SELECT version FROM {self._table} WHERE workspace = $1 ORDER BY version DESC LIMIT $2)",
            self.workspace,
            self.keep,
        )
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, f"{self.schema}:{self.workspace}:{version}")
        return version

    def _document(self, row: Any) -> Document:
        blob = bytes(row["secrets"])
        secrets = open_values(blob, master_key(), f"{self.source}: the stored secrets") if blob else {}
        return Document(json.loads(row["document"]), secrets, str(row["version"]))

    async def _row(self, offset: int) -> Any:
        return await self.pool.fetchrow(
            f"SELECT version, document, secrets FROM {self._table} WHERE workspace = $1 "
            "ORDER BY version DESC LIMIT 1 OFFSET $2",
            self.workspace,
            offset,
        )

    async def read(self) -> Document:
        row = await self._row(0)
        if row is None:
            raise ConfigError([f"{self.source}: no configuration stored for workspace {self.workspace} yet"])
        return self._document(row)

    async def write(self, doc: Document) -> Document:
        """Store `doc` as the newest version and tell every replica."""
        async with self.pool.acquire() as conn, conn.transaction():
            version = await self._insert(conn, doc)
        return Document(doc.raw, doc.secrets, str(version))

    async def has_previous(self) -> bool:
        return await self._row(1) is not None

    async def rollback(self) -> Document | None:
        """Store the version before the newest again, as the newest; None if there is none."""
        row = await self._row(1)
        if row is None:
            return None
        return await self.write(self._document(row))

    async def watch(self, changed: Changed) -> None:
        """Call `changed` with the newest document whenever any replica stores one."""
        self._listener = await asyncpg.connect(self._dsn)
        prefix = f"{self.schema}:{self.workspace}:"

        def heard(conn: Any, pid: int, channel: str, payload: str) -> None:
            if payload.startswith(prefix):
                task = asyncio.create_task(self._deliver(changed))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

        await self._listener.add_listener(CHANNEL, heard)

    async def _deliver(self, changed: Changed) -> None:
        try:
            await changed(await self.read())
        except Exception as exc:
            log.error("configuration change not applied", extra={"error": type(exc).__name__})

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
