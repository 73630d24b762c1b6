"""Keys that guard access must be long, varied and not template text; `relay config check` says which
key is weak and how to make a good one, without printing it."""

from __future__ import annotations

import copy
import secrets
from pathlib import Path
from typing import Any

import pytest

from relay import config
from relay.cli import main
from relay.errors import ConfigError
from relay.secret import SecretsFileError, master_key
from tests.conftest import workspace

GOOD = "a-good-key-7f3a9c2e5b1d4806"
WEAK = [
    "replace-with-openssl-rand-base64-32",
    "changeme-please-0123456789",
    "my-example-access-key-0123",
    "placeholder-value-0123456789",
    "your-inbox-key-goes-here-01",
    "sk_live_xxxxxxxxxxxxxxxxxxxx",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "abababababababababababababab",
]
TELEGRAM = {"type": "telegram", "token": "123456789:AAbbCCddEEffGGhhIIjjKKllMMnn", "secret_token": GOOD}
WHATSAPP = {
    "type": "whatsapp",
    "phone_number_id": "109876543210",
    "access_token": "EAAG-some-access-token",
    "app_secret": "0123456789abcdef",
    "verify_token": GOOD,
}
BOTTLE = {
    "type": "bottlecrm",
    "api_base_url": "https://crm.test",
    "api_token": "bcrm_pat_0123456789abcdef",
    "webhook_secret": GOOD,
}
CONNECTORS: dict[str, Any] = {
    "crm": {"type": "webhook", "url": "https://crm.test/hook", "secret": GOOD, "inbound_secret": GOOD},
    "inbox": {"type": "inbox", "access_key": GOOD},
    "tg": TELEGRAM,
    "wa": WHATSAPP,
    "bottle": BOTTLE,
}
ROUTES = [{"from": ["tg", "wa"], "to": "crm"}]
# Where each guarded key sits: (path in the config dict, path named in the error).
KEYS = [
    (("connectors", "crm", "secret"), "connectors.crm.secret"),
    (("connectors", "crm", "inbound_secret"), "connectors.crm.inbound_secret"),
    (("connectors", "inbox", "access_key"), "connectors.inbox.access_key"),
    (("connectors", "tg", "secret_token"), "connectors.tg.secret_token"),
    (("connectors", "wa", "verify_token"), "connectors.wa.verify_token"),
    (("connectors", "bottle", "webhook_secret"), "connectors.bottle.webhook_secret"),
    (("workspace", "keys", 0, "secret"), "workspace.keys"),
]


def _with(path: tuple[Any, ...], value: str) -> dict[str, Any]:
    raw = copy.deepcopy(workspace(CONNECTORS, ROUTES))
    node = raw
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return raw


@pytest.mark.parametrize("value", WEAK)
@pytest.mark.parametrize(("where", "named"), KEYS, ids=[k[1] for k in KEYS])
def test_weak_keys_are_config_errors_naming_the_path_and_the_fix(
    where: tuple[Any, ...], named: str, value: str
) -> None:
    with pytest.raises(ConfigError) as info:
        config.parse(_with(where, value), "<test>")
    problems = [p for p in info.value.problems if p.startswith(f"<test>: {named}")]
    assert problems, info.value.problems
    assert "openssl rand" in problems[0] or "relay bottlecrm register-webhook" in problems[0]
    if len(value) >= 8:
        assert value not in str(info.value)


@pytest.mark.parametrize(("where", "named"), [k for k in KEYS if k[0][1] in ("inbox", "tg", "wa")])
def test_short_keys_are_refused(where: tuple[Any, ...], named: str) -> None:
    with pytest.raises(ConfigError, match=f"{named}: too weak: is 12 characters; at least 16 are needed"):
        config.parse(_with(where, "short-key-12"), "<test>")


def test_random_keys_and_the_test_values_pass() -> None:
    config.parse(workspace(CONNECTORS, ROUTES), "<test>")
    for _ in range(100):
        for value in (secrets.token_hex(8), secrets.token_hex(32), secrets.token_urlsafe(32)):
            config.parse(_with(("connectors", "tg", "secret_token"), value), "<test>")
    with pytest.raises(ConfigError, match="placeholder"):
        config.parse(_with(("connectors", "crm", "secret"), "replace-with-openssl-rand-hex-32"), "<test>")


def test_an_old_workspace_key_may_be_short_but_not_a_placeholder() -> None:
    raw = workspace(CONNECTORS, ROUTES)
    raw["workspace"]["keys"].append({"id": "k0", "secret": "old"})
    config.parse(raw, "<test>")
    raw["workspace"]["keys"][1]["secret"] = "replace-with-openssl-rand-base64-32"
    with pytest.raises(ConfigError, match=r"workspace\.keys\.1\.secret: too weak: looks like placeholder text"):
        config.parse(raw, "<test>")


def test_config_check_refuses_the_kubernetes_placeholder_and_a_one_letter_inbox_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(
        '[workspace]\nkeys = [{ id = "k1", secret = "replace-with-openssl-rand-base64-32" }]\n'
        '[connectors.inbox]\ntype = "inbox"\naccess_key = "a"\n'
    )
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "workspace.keys.0.secret: too weak" in err and "connectors.inbox.access_key: too weak" in err
    assert "`openssl rand -base64 32`" in err


def test_a_placeholder_master_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_MASTER_KEY", "replace-with-a-long-random-value")
    with pytest.raises(SecretsFileError, match="placeholder"):
        master_key()
