"""The audit log in PostgreSQL when the configuration is: every replica appends to one table and the console of
any replica shows it all; key names only; an unreachable database is named by its config key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from relay import config
from relay.admin.audit_pg import PostgresAudit
from relay.admin.principal import AUDIT, CSRF_HEADER, Principal, Role
from relay.admin.site import shared_audit
from relay.errors import ConfigError
from tests.admin.conftest import PG_URL
from tests.support.admin_console import ConsoleFactory, admin_workspace

OWNER = Principal("owner-1", "Owner", Role.OWNER, "oidc")


def on_postgres(base: Path, schema: str, **admin: Any) -> dict[str, Any]:
    raw = admin_workspace(base, **admin)
    raw["config_store"] = {"backend": "postgres", "dsn": PG_URL, "schema": schema}
    return raw


async def test_what_one_replica_did_shows_in_another_replicas_console(
    start_console: ConsoleFactory, tmp_path: Path, schema: str
) -> None:
    first = await start_console(on_postgres(tmp_path, schema))
    second = await start_console(on_postgres(tmp_path, schema))
    sid, csrf = await first.session_for(Role.OWNER)
    first.client.session.cookie_jar.update_cookies({first.cookie: sid})
    saved = await first.client.post(
        "/admin/allowlist", data={"type": ["webchat", "inbox"]}, headers={CSRF_HEADER: csrf}, allow_redirects=False
    )
    assert saved.status == 303
    sid, _ = await second.session_for(Role.VIEWER)
    second.client.session.cookie_jar.update_cookies({second.cookie: sid})
    page = await (await second.client.get("/admin/audit", params={"q": "allowlist"})).text()
    assert "allowlist.set" in page and "test-owner" in page
    assert first.audit_lines() == [], "no file of one replica's own"
    entries = await second.admin_app[AUDIT].entries("allowlist")
    assert [(e["action"], e["keys"]) for e in entries] == [("allowlist.set", ["inbox", "webchat"])]


async def test_entries_come_newest_first_across_batches_and_keep_names_only(schema: str) -> None:
    writer, reader = PostgresAudit(PG_URL, "ws-a", schema), PostgresAudit(PG_URL, "ws-a", schema)
    other = PostgresAudit(PG_URL, "ws-b", schema)
    for audit in (writer, reader, other):
        await audit.open()
    try:
        await writer.record("connector.add", OWNER, "192.0.2.1", ["connectors.tg.token", "sk-live secret value"])
        for n in range(510):
            await writer.record("connector.test", OWNER, "192.0.2.1", [f"connectors.c{n}"])
        await other.record("connector.add", OWNER, "192.0.2.9", ["connectors.elsewhere"])
        everything = await reader.entries(limit=None)
        assert len(everything) == 511 and everything[0]["keys"] == ["connectors.c509"]
        (first,) = await reader.entries("connector.add")
        assert first["keys"] == ["connectors.tg.token", "?"] and first["role"] == "owner"
        assert len(await reader.entries()) == 500
        assert "ws-b" not in repr(await reader.entries("elsewhere")) and await reader.entries("elsewhere") == []
    finally:
        for audit in (writer, reader, other):
            await audit.close()


async def test_an_unreachable_database_is_named_by_its_key_not_its_address() -> None:
    audit = PostgresAudit("postgresql://postgres:pw@127.0.0.1:9/test", "ws")
    with pytest.raises(ConfigError) as caught:
        await audit.open()
    assert "config_store.dsn: cannot reach" in str(caught.value) and "127.0.0.1:9" not in str(caught.value)
    assert "pw" not in repr(audit)


def test_a_file_of_its_own_when_asked_for_or_without_postgres(tmp_path: Path) -> None:
    assert shared_audit(config.parse(on_postgres(tmp_path, "s1"), "relay.toml", tmp_path)) is not None
    named = on_postgres(tmp_path, "s1", audit_log="audit.jsonl")
    assert shared_audit(config.parse(named, "relay.toml", tmp_path)) is None
    assert shared_audit(config.parse(admin_workspace(tmp_path), "relay.toml", tmp_path)) is None
