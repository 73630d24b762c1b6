"""The file store: atomic writes that keep comments, secrets only in the 0600 encrypted file, one previous
version for rollback."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from relay.configstore import Document, FileStore, toml_text
from relay.secret import load_secrets
from tests.admin.conftest import MASTER

TEXT = """# the workspace of the support team
[workspace]
id = "test"  # shown in logs
keys = [{ id = "k1", secret = "test-workspace-key-0123456789abcdef" }]

[connectors.crm]
type = "webhook"
url = "http://127.0.0.1:9/crm"
secret = "${CRM_SECRET}"
"""


def test_a_change_keeps_the_comments_of_sections_it_does_not_touch() -> None:
    raw = tomllib.loads(TEXT)
    raw["connectors"]["crm"]["timeout"] = 3.0
    out = toml_text(TEXT, raw)
    assert "# the workspace of the support team" in out and 'id = "test"  # shown in logs' in out
    assert tomllib.loads(out) == raw


async def test_write_keeps_the_previous_version_and_rollback_swaps_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_MASTER_KEY", MASTER)
    monkeypatch.delenv("RELAY_SECRETS_FILE", raising=False)
    path = tmp_path / "relay.toml"
    path.write_text(TEXT)
    path.chmod(0o640)
    store = FileStore(path)
    assert not await store.has_previous() and await store.rollback() is None
    first = await store.read()
    raw = first.edited()
    raw["connectors"]["crm"]["timeout"] = 3.0
    await store.write(Document(raw, {"CRM_SECRET": "s3cr3t-value-0123456789abcdef"}))
    secrets = tmp_path / "relay-secrets.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600 and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert load_secrets(secrets, MASTER) == {"CRM_SECRET": "s3cr3t-value-0123456789abcdef"}
    assert b"s3cr3t" not in secrets.read_bytes() and "s3cr3t" not in path.read_text()
    assert (tmp_path / "relay.toml.prev").read_text() == TEXT
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "relay-secrets.json",
        "relay-secrets.json.prev",
        "relay.toml",
        "relay.toml.prev",
    ]
    back = await store.rollback()
    assert back is not None and back.raw == first.raw and dict(back.secrets) == {}
    assert "timeout" not in path.read_text() and load_secrets(secrets, MASTER) == {}
    again = await store.rollback()
    assert again is not None and again.raw["connectors"]["crm"]["timeout"] == 3.0
    assert dict(again.secrets) == {"CRM_SECRET": "s3cr3t-value-0123456789abcdef"}
