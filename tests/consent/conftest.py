"""Fixtures for the consent ledger: a fresh PostgreSQL schema name per test (dropped after)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest

PG_URL = os.environ.get("RELAY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def pg_reachable() -> bool:
    try:
        conn = await asyncpg.connect(PG_URL, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    """A schema name of this test's own on the local PostgreSQL, dropped afterwards if it was made."""
    schema = "relay_test_" + secrets.token_hex(6)
    yield schema
    try:
        conn = await asyncpg.connect(PG_URL, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
