"""Config validation: every problem at once, with its path and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay import config
from relay.app import RELAY_KEY, create_app
from relay.errors import ConfigError
from relay.secret import save_secrets

GOOD = """
[workspace]
id = "acme"
keys = [{ id = "k1", secret = "${RELAY_TEST_KEY}" }]

[connectors.chat]
type = "webchat"

[connectors.crm]
type = "webhook"
url = "https://crm.example.com/hook"
secret = "${CRM_SECRET}"

[[routes]]
from = ["chat"]
to = "crm"
"""


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_TEST_KEY", "a-long-workspace-key-0123456789")
    monkeypatch.setenv("CRM_SECRET", "crm-secret-0123456789abc")


def test_good_config_loads_and_resolves_env(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(GOOD)
    loaded = config.load(path)
    assert loaded.instances["crm"].config.secret.reveal() == "crm-secret-0123456789abc"
    assert "crm-secret" not in repr(loaded.instances["crm"].config)
    assert loaded.crm_of() == {"chat": "crm"}


def test_three_mistakes_are_reported_together_with_paths(tmp_path: Path) -> None:
    bad = (
        GOOD.replace('type = "webchat"', 'type = "webchta"')
        .replace('url = "https://crm.example.com/hook"', 'url = "https://crm.example.com/hook"\nsecert = "x"')
        .replace('to = "crm"', 'to = "cmr"')
    )
    path = tmp_path / "relay.toml"
    path.write_text(bad)
    with pytest.raises(ConfigError) as err:
        config.load(path)
    problems = err.value.problems
    assert len(problems) == 3, problems
    assert any("connectors.chat.type" in p and "did you mean 'webchat'" in p for p in problems)
    assert any("connectors.crm.secert" in p and "did you mean 'secret'" in p for p in problems)
    assert any("routes[0].to" in p and "did you mean 'crm'" in p for p in problems)


def test_missing_env_reference_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_SECRET")
    path = tmp_path / "relay.toml"
    path.write_text(GOOD)
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert any("connectors.crm.secret" in p and "export CRM_SECRET" in p for p in err.value.problems)


def test_secrets_file_supplies_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_SECRET")
    monkeypatch.setenv("RELAY_MASTER_KEY", "master-key-0123456789abcdef")
    save_secrets(tmp_path / "secrets.json", "master-key-0123456789abcdef", {"CRM_SECRET": "from-the-file-0123456789"})
    path = tmp_path / "relay.toml"
    path.write_text(GOOD.replace('id = "acme"', 'id = "acme"\nsecrets_file = "secrets.json"'))
    loaded = config.load(path)
    assert loaded.instances["crm"].config.secret.reveal() == "from-the-file-0123456789"
    assert b"from-the-file" not in (tmp_path / "secrets.json").read_bytes()


def test_route_kinds_and_unrouted_messengers(tmp_path: Path) -> None:
    raw = {
        "workspace": {"keys": [{"id": "k1", "secret": "0123456789abcdef0123"}]},
        "connectors": {"a": {"type": "webchat"}, "b": {"type": "webchat"}, "crm": {"type": "inbox"}},
        "routes": [{"from": ["crm"], "to": "a"}],
    }
    with pytest.raises(ConfigError) as err:
        config.parse(raw)
    text = "\n".join(err.value.problems)
    assert "routes[0].to: 'a' is a messenger" in text
    assert "routes[0].from: 'crm' is a CRM" in text
    assert "connectors.b: messenger has no route" in text


def test_bad_toml_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text("[workspace\nid=1")
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert "not valid TOML" in err.value.problems[0]
    with pytest.raises(ConfigError) as err:
        config.load(tmp_path / "missing.toml")
    assert "cannot read" in err.value.problems[0]


def test_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    path = Path(__file__).parents[2] / "config" / "relay.example.toml"
    text = path.read_text()
    import re

    prefixes = {"SLACK_BOT_TOKEN": "xoxb-", "SLACK_APP_TOKEN": "xapp-", "TELEGRAM_BOT_TOKEN": "123456789:"}
    for name in set(re.findall(r"\$\{([A-Z0-9_]+)\}", text)):
        monkeypatch.setenv(name, prefixes.get(name, "") + "doc-value-7f3a9c2e5b1d4806")
    loaded = config.load(path)
    assert loaded.instances


def test_an_unset_reference_is_reported_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_SECRET")
    path = tmp_path / "relay.toml"
    path.write_text(GOOD)
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert [p for p in err.value.problems if "connectors.crm.secret" in p] == [
        f"{path}: connectors.crm.secret: ${{CRM_SECRET}} is not set; export CRM_SECRET or run "
        "`relay secrets set CRM_SECRET`"
    ]


async def test_claim_ttl_reaches_the_engine_and_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(GOOD + "\n[state]\nclaim_ttl = 30\n")
    loaded = config.load(path)
    app = await create_app(loaded)
    assert app[RELAY_KEY].engine.dedup.claim_ttl == 30
    await app[RELAY_KEY].session.close()
    await app[RELAY_KEY].fetch_session.close()
    await app[RELAY_KEY].media.session.close()
    await app[RELAY_KEY].media.trusted.close()
    path.write_text(GOOD + "\n[state]\nclaim_ttl = 0\n")
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert any("state.claim_ttl" in p for p in err.value.problems)


async def test_capacity_keys_reach_the_engine_and_the_store(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(GOOD + "\n[server]\nmax_inflight_per_destination = 40\n[state]\nmax_entries = 5000\n")
    app = await create_app(config.load(path))
    relay = app[RELAY_KEY]
    assert relay.engine.settings.max_inflight_per_destination == 40
    assert relay.store.max_keys == 5000
    await relay.session.close()
    await relay.fetch_session.close()
    await relay.media.session.close()
    await relay.media.trusted.close()


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        ('backend = "redis"', 'state: backend "redis" needs url'),
        ('url = "redis://127.0.0.1:6379/0"', 'state: url is for backend = "redis"'),
        (
            'backend = "redis"\nurl = "redis://127.0.0.1:6379/0"\nmax_entries = 5000',
            "state: max_entries bounds the memory backend only",
        ),
    ],
)
def test_state_backend_settings_must_match(tmp_path: Path, state: str, problem: str) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(GOOD + f"\n[state]\n{state}\n")
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert len(err.value.problems) == 1 and problem in err.value.problems[0], err.value.problems


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("workspace = 5\nconnectors = 7\n", "workspace: must be a table ([workspace] or { key = value }), not int"),
        (
            GOOD + '\n[server]\npublic_url = "relay.example.com"\n',
            "server.public_url: must be the relay's public base URL",
        ),
        (
            GOOD.replace('"${RELAY_TEST_KEY}"', '"short"'),
            "workspace.keys: the first key seals new references and must be at least 16 characters",
        ),
    ],
)
def test_malformed_sections_are_problems_not_tracebacks(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert any(problem in p for p in err.value.problems), err.value.problems


def test_a_short_old_key_may_follow_to_open_old_references(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(
        GOOD.replace(
            '{ id = "k1", secret = "${RELAY_TEST_KEY}" }',
            '{ id = "k2", secret = "${RELAY_TEST_KEY}" }, { id = "k1", secret = "old" }',
        )
    )
    assert [k.id for k in config.load(path).relay.workspace.keys] == ["k2", "k1"]
