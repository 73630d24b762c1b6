"""PostgreSQL for what the relay keeps durably (configuration, consent): the pool and the first-start schema."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg

from relay.errors import ConfigError


async def connect(dsn: str, key: str, what: str, command_timeout: float) -> asyncpg.Pool:
    """A small pool; a ConfigError naming the config `key` when the database cannot be reached."""
    try:
        pool: asyncpg.Pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4, command_timeout=command_timeout)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise ConfigError(
            [
                f"{key}: cannot reach the {what} ({type(exc).__name__}); check the address, the network and the "
                "user's rights, then start again"
            ]
        ) from None
    return pool


@asynccontextmanager
async def schema(pool: asyncpg.Pool, name: str, lock: int, tables: Sequence[str]) -> AsyncIterator[asyncpg.Connection]:
    """A transaction holding `lock` (replicas starting together create tables once) in which the schema and
    `tables` (CREATE ... IF NOT EXISTS statements) exist; the caller may seed rows before it commits."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock)
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{name}"')
        for statement in tables:
            await conn.execute(statement)
        yield conn
