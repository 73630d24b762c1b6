"""The owner's workspace allowlist (console and file), and the audit log's filter and export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relay import config
from relay.admin.principal import AUDIT, CSRF_HEADER, Role
from relay.errors import ConfigError
from tests.conftest import sandbox_workspace
from tests.support.admin_console import ConsoleFactory


def test_the_file_refuses_a_disallowed_type_naming_the_key_and_the_fix() -> None:
    raw = sandbox_workspace()
    raw["workspace"]["allowed_types"] = ["inbox", "telegram"]
    with pytest.raises(ConfigError) as caught:
        config.parse(raw, "relay.toml")
    (problem,) = caught.value.problems
    assert problem.startswith("relay.toml: connectors.webchat.type: connector type 'webchat' is not allowed")
    assert "workspace.allowed_types" in problem and "/admin/allowlist" in problem


def test_an_unknown_type_in_the_allowlist_is_named() -> None:
    raw = sandbox_workspace()
    raw["workspace"]["allowed_types"] = ["inbox", "webchat", "telegarm"]
    with pytest.raises(ConfigError) as caught:
        config.parse(raw, "relay.toml")
    assert any("workspace.allowed_types" in p and "telegarm" in p and "telegram" in p for p in caught.value.problems)


async def test_owner_saves_the_allowlist_and_the_next_load_enforces_it(
    start_console: ConsoleFactory, tmp_path: Path
) -> None:
    console = await start_console()
    sid, csrf = await console.session_for(Role.OWNER)
    console.client.session.cookie_jar.update_cookies({console.cookie: sid})
    headers = {CSRF_HEADER: csrf}
    refused = await console.client.post("/admin/allowlist", data={"type": ["inbox"]}, headers=headers)
    assert refused.status == 409 and "webchat (webchat)" in await refused.text()
    saved = await console.client.post(
        "/admin/allowlist", data={"type": ["inbox", "webchat", "email"]}, headers=headers, allow_redirects=False
    )
    assert saved.status == 303
    assert json.loads((tmp_path / "relay-data" / "allowed-types.json").read_text()) == {
        "allowed_types": ["email", "inbox", "webchat"]
    }
    raw = sandbox_workspace()
    raw["connectors"]["tg"] = {"type": "telegram", "token": "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345678"}
    with pytest.raises(ConfigError) as caught:
        config.parse(raw, "relay.toml", tmp_path)
    assert any(p.startswith("relay.toml: connectors.tg.type: connector type 'telegram'") for p in caught.value.problems)
    entries = [json.loads(line) for line in console.audit_lines()]
    assert [(e["action"], e["outcome"]) for e in entries] == [("allowlist.set", "refused"), ("allowlist.set", "ok")]
    assert entries[-1]["keys"] == ["email", "inbox", "webchat"]


async def test_audit_page_filters_and_exports_json_lines(start_console: ConsoleFactory) -> None:
    console = await start_console()
    audit = console.admin_app[AUDIT]
    await audit.record("connector.add", None, "192.0.2.7", ["connectors.tg.token"])
    await audit.record("signin.saml", None, "192.0.2.8", outcome="rejected")
    sid, _ = await console.session_for(Role.VIEWER)
    console.client.session.cookie_jar.update_cookies({console.cookie: sid})
    page = await (await console.client.get("/admin/audit", params={"q": "connector"})).text()
    assert "connectors.tg.token" in page and "signin.saml" not in page
    export = await console.client.get("/admin/audit.jsonl", params={"q": "saml"})
    assert export.headers["Content-Disposition"].startswith("attachment")
    lines = [json.loads(line) for line in (await export.text()).splitlines()]
    assert [e["action"] for e in lines] == ["signin.saml"]
    assert json.loads(console.audit_lines()[-1])["action"] == "audit.export"


async def test_audit_keeps_key_names_never_values(tmp_path: Path) -> None:
    from relay.admin.audit import FileAudit

    audit = FileAudit(tmp_path / "a.jsonl")
    await audit.record("connector.edit", None, None, ["connectors.tg.token", "s3cr3t value with spaces"])
    await audit.record("Not An Action!", None, None)
    entries = await audit.entries()
    assert entries[1]["keys"] == ["connectors.tg.token", "?"]
    assert entries[0]["action"] == "?"
    assert (tmp_path / "a.jsonl").stat().st_mode & 0o777 == 0o600


async def test_an_unwritable_data_directory_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from relay.app import create_app
    from tests.support.admin_console import admin_workspace

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("RELAY_DATA_DIR", str(blocker / "data"))
    loaded = config.parse(admin_workspace(tmp_path), "relay.toml", tmp_path)
    with pytest.raises(ConfigError) as caught:
        await create_app(loaded)
    (problem,) = caught.value.problems
    assert problem.startswith(f"relay.toml: admin.audit_log: cannot write the audit log at {blocker}/data/")
    assert "RELAY_DATA_DIR" in problem
