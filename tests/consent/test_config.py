"""The [consent] and [minimise] tables: defaults, where the ledger goes, and clear errors with paths."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from relay import config
from relay.app import RELAY_KEY, create_app
from relay.consent_setup import ledger_path, make_ledger, problems
from relay.errors import ConfigError
from relay.privacy_config import MinimiseConfig
from tests.conftest import workspace

CRM = {"type": "webhook", "url": "https://c.example/h", "secret": "consent-test-secret-7d2f9a41c6b3"}
CHAT_CRM = {"chat": {"type": "webchat"}, "crm": CRM}


def _raw(**extra: Any) -> dict[str, Any]:
    return workspace(CHAT_CRM, [{"from": ["chat"], "to": "crm"}], **extra)


def _problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        config.parse(raw, "<test>")
    return err.value.problems


def test_config_builds_the_policy_and_a_route_overrides_keys() -> None:
    top = MinimiseConfig(email="mask", attachments_allow=["image/*"])
    route = MinimiseConfig.model_validate({"phone": "drop", "directions": ["inbound", "outbound"]})
    policy = top.merged(route).policy()
    rules = [(r.detector.kind, r.action) for r in policy.rules]
    assert rules == [("card", "mask"), ("email", "mask"), ("phone", "drop")]
    assert policy.allow == ("image/*",) and policy.inbound and policy.outbound
    assert MinimiseConfig().policy().rules[0].detector.kind == "card"
    assert MinimiseConfig(card="off").policy().empty
    raw = _raw(minimise={"email": "mask"})
    raw["routes"][0]["minimise"] = {"card": "drop"}
    loaded = config.parse(raw, "<test>")
    assert loaded.relay.minimise.merged(loaded.relay.routes[0].minimise).card == "drop"


def test_bad_consent_and_minimise_keys_are_clear_errors() -> None:
    found = _problems(_raw(consent={"backend": "postgres", "opt_in_words": ["stop"]}))
    assert any(p.startswith("<test>: consent: ") and 'needs url = "postgresql://' in p for p in found)
    found = _problems(_raw(consent={"url": "postgresql://x", "retention_days": 1, "key": "short"}))
    assert any("consent.retention_days" in p for p in found)
    assert any("consent.key: must be at least 16 characters" in p for p in found)
    found = _problems(_raw(consent={"opt_in_words": ["stop"]}))
    assert any("'stop' is both an opt-out and an opt-in word" in p for p in found)
    found = _problems(_raw(consent={"schema": "x; drop table"}))
    assert any(p.startswith("<test>: consent.schema:") for p in found)
    raw = _raw(minimise={"cards": "mask", "email": "hide", "attachments_deny": ["exe"]})
    raw["minimise"]["custom"] = [{"name": "order", "pattern": "(unclosed"}, {"name": "card", "pattern": "x"}]
    found = _problems(raw)
    assert any("minimise.cards: unknown key" in p for p in found)
    assert any(p.startswith("<test>: minimise.email:") for p in found)
    assert any("'exe' is not a MIME type pattern" in p for p in found)
    assert any("minimise.custom.0.pattern: not a valid regular expression" in p for p in found)
    assert any("'card' is a built-in detector" in p for p in found)
    raw = _raw()
    raw["routes"][0]["minimise"] = {"phone": "blur"}
    assert any(p.startswith("<test>: routes.0.minimise.phone:") for p in _problems(raw))


def test_where_the_ledger_goes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELAY_DATA_DIR", raising=False)
    assert ledger_path(config.parse(_raw(), "<sandbox>")) is None
    assert make_ledger(config.parse(_raw(), "<sandbox>")).kind == "memory"
    loaded = config.parse(_raw(), "relay.toml", tmp_path)
    assert ledger_path(loaded) == tmp_path / "relay-data" / "consent.sqlite3"
    monkeypatch.setenv("RELAY_DATA_DIR", str(tmp_path / "data"))
    assert ledger_path(loaded) == tmp_path / "data" / "consent.sqlite3"
    loaded = config.parse(_raw(consent={"path": "ledger/c.db"}), "relay.toml", tmp_path)
    assert ledger_path(loaded) == tmp_path / "ledger" / "c.db"
    memory = config.parse(_raw(consent={"backend": "memory"}), "relay.toml", tmp_path)
    assert any("forgotten at restart" in p for p in problems(memory, make_ledger(memory)))
    shared = config.parse(_raw(state={"backend": "redis", "url": "redis://x"}), "relay.toml", tmp_path)
    assert any('set backend = "postgres"' in p for p in problems(shared, make_ledger(shared)))


async def test_a_config_file_gets_a_private_sqlite_ledger_opened_and_closed_with_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aiohttp_client: Any
) -> None:
    monkeypatch.delenv("RELAY_DATA_DIR", raising=False)
    loaded = config.parse(_raw(), str(tmp_path / "relay.toml"), tmp_path)
    app = await create_app(loaded)
    path = tmp_path / "relay-data" / "consent.sqlite3"
    assert not path.exists()
    client = await aiohttp_client(app)
    assert app[RELAY_KEY].ledger.kind == "sqlite" and path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    await client.close()
    assert app[RELAY_KEY].ledger._db is None  # type: ignore[attr-defined]


def test_consent_secrets_reach_the_log_redactor() -> None:
    url = "postgresql://relay:pg-password-0123@db/relay"
    loaded = config.parse(_raw(consent={"backend": "postgres", "url": url, "key": "k" * 20}), "<test>")
    assert url in loaded.secrets() and "k" * 20 in loaded.secrets()
    assert "pg-password" not in repr(loaded.relay.consent)
