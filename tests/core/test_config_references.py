"""Config mistakes a new admin makes: references the config can never resolve, routes beside other
mistakes, CRMs nothing is routed to, and validation errors in words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError

from relay import config, registry
from relay.errors import ConfigError
from tests.core.test_cli import run

KEY = "a-long-workspace-key-0123456789"


def raw(secret: str = "crm-secret-0123456789abc", **extra: Any) -> dict[str, Any]:
    return {
        "workspace": {"keys": [{"id": "k1", "secret": KEY}]},
        "connectors": {
            "chat": {"type": "webchat"},
            "crm": {"type": "webhook", "url": "https://crm.example.com/hook", "secret": secret},
        },
        "routes": [{"from": ["chat"], "to": "crm"}],
        **extra,
    }


def problems_of(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        config.parse(doc)
    return err.value.problems


def test_secrets_set_refuses_a_name_no_reference_can_hold(tmp_path: Path) -> None:
    env = {"RELAY_MASTER_KEY": "master-key-0123456789abcdef", "RELAY_SECRETS_FILE": str(tmp_path / "s.json")}
    out = run("secrets", "set", "crm-webhook-secret", stdin="the-secret-value-123\n", env=env)
    assert out.returncode == 2
    assert "cannot be referenced as ${crm-webhook-secret}" in out.stderr
    assert "use CRM_WEBHOOK_SECRET instead" in out.stderr
    assert "Reference it" not in out.stdout
    assert not (tmp_path / "s.json").exists()


def test_a_reference_with_a_bad_name_is_a_problem_not_the_secret() -> None:
    found = problems_of(raw("${crm-webhook-secret}"))
    assert found == [
        "<config>: connectors.crm.secret: ${crm-webhook-secret} is not a valid reference (names hold only letters, "
        "digits and '_' and do not start with a digit), so it would be taken as literal text; write "
        "${CRM_WEBHOOK_SECRET} and export CRM_WEBHOOK_SECRET or run `relay secrets set CRM_WEBHOOK_SECRET`"
    ]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("${CRM_SECRET", "connectors.crm.secret: ${ has no closing '}'"),
        ("${}", "connectors.crm.secret: ${} is not a valid reference"),
        ("${1ST_SECRET}", "write ${_1ST_SECRET}"),
        ("${EMPTY_SECRET}", "connectors.crm.secret: ${EMPTY_SECRET} is set but empty; give EMPTY_SECRET a value"),
    ],
)
def test_a_reference_that_resolves_to_nothing_is_a_problem(
    value: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMPTY_SECRET", "")
    found = problems_of(raw(value))
    assert len(found) == 1 and problem in found[0], found


def test_config_check_fails_on_a_bad_reference(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(
        f'[workspace]\nkeys = [{{ id = "k1", secret = "{KEY}" }}]\n[connectors.chat]\ntype = "webchat"\n'
        '[connectors.crm]\ntype = "webhook"\nurl = "https://crm.example.com/hook"\n'
        'secret = "${crm-webhook-secret}"\n[[routes]]\nfrom = ["chat"]\nto = "crm"\n'
    )
    out = run("config", "check", str(path))
    assert out.returncode == 2, out.stdout
    assert "${crm-webhook-secret} is not a valid reference" in out.stderr


def test_a_route_from_nowhere_is_reported_beside_a_misspelt_type_and_an_unset_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("UNSET_KEY", raising=False)
    doc = raw()
    doc["workspace"]["keys"][0]["secret"] = "${UNSET_KEY}"
    doc["connectors"]["chat"]["type"] = "webchta"
    doc["routes"] = [{"from": ["nowhere"], "to": "crm"}, {"from": "not-a-list"}]
    found = "\n".join(problems_of(doc))
    assert "workspace.keys[0].secret: ${UNSET_KEY} is not set" in found
    assert "connectors.chat.type: unknown connector type 'webchta'" in found
    assert "routes[0].from: no connector named 'nowhere'" in found
    assert "routes.1.from: must be a list" in found


def test_a_crm_no_route_goes_to_is_a_warning(tmp_path: Path) -> None:
    doc = raw()
    doc["connectors"]["spare"] = {"type": "inbox", "access_key": "inbox-test-key-123456"}
    loaded = config.parse(doc)
    assert loaded.warnings == (
        "<config>: connectors.spare: no route goes to this CRM, so no message reaches it; name it in a [[routes]] "
        'to = "spare", or remove the section',
    )
    assert config.parse(raw()).warnings == ()


def test_config_check_prints_the_warnings_of_the_example() -> None:
    import re

    path = Path(__file__).parents[2] / "config" / "relay.example.toml"
    prefixes = {"SLACK_BOT_TOKEN": "xoxb-", "SLACK_APP_TOKEN": "xapp-", "TELEGRAM_BOT_TOKEN": "123456789:"}
    names = re.findall(r"\$\{([A-Z0-9_]+)\}", path.read_text())
    env = {name: prefixes.get(name, "") + "doc-value-7f3a9c2e5b1d4806" for name in names}
    out = run("config", "check", str(path), env=env)
    assert out.returncode == 0, out.stderr
    warned = re.findall(r"^warning: .*: connectors\.([a-z]+): no route goes to this CRM", out.stdout, re.M)
    assert sorted(warned) == ["bottle", "hubspot", "inbox", "zendesk"]


def test_the_example_says_what_verify_token_must_be() -> None:
    path = Path(__file__).parents[2] / "config" / "relay.example.toml"
    line = next(x for x in path.read_text().splitlines() if x.startswith("verify_token"))
    assert "any string" not in line and "16+" in line and "you choose" in line


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            {"api_base_url": "api.telegram.org"},
            'connectors.tg.api_base_url: must be a URL starting with https:// (or http://), like "https://',
        ),
        ({"accept_groups": "maybe"}, "connectors.tg.accept_groups: must be true or false, without quotes (not text)"),
        ({"timeout": "soon"}, "connectors.tg.timeout: must be a number, like 2.5 (not text)"),
        ({"mode": "push"}, 'connectors.tg.mode: must be one of "webhook" or "polling"'),
    ],
)
def test_validation_errors_say_what_is_expected_in_words(body: dict[str, Any], problem: str) -> None:
    doc = raw()
    doc["connectors"]["tg"] = {"type": "telegram", "token": "123456789:doc-value-7f3a9c2e5b1d4806", **body}
    doc["connectors"]["tg"].setdefault("mode", "polling")
    doc["routes"][0]["from"].append("tg")
    found = problems_of(doc)
    assert any(problem in p for p in found), found
    assert not any("should" in p or "Input" in p for p in found), found


def test_a_title_that_is_not_text_is_explained() -> None:
    doc = raw()
    doc["connectors"]["chat"]["title"] = 42
    assert problems_of(doc) == [
        '<config>: connectors.chat.title: must be text in quotes, like "example" (not a whole number)'
    ]


def test_every_pattern_of_every_connector_is_explained_with_an_example() -> None:
    from relay.config_words import describe

    patterns = set()
    for name in registry.available():
        for model in (registry.load(name).config, config.KeyConfig, config.WorkspaceConfig):
            stack: list[type[BaseModel]] = [model]
            while stack:
                current = stack.pop()
                for field in current.model_fields.values():
                    patterns |= {m.pattern for m in field.metadata if getattr(m, "pattern", None)}
                    annotation = field.annotation
                    for arg in (*getattr(annotation, "__args__", ()), annotation):
                        if isinstance(arg, type) and issubclass(arg, BaseModel):
                            stack.append(arg)
    assert len(patterns) > 10
    for pattern in patterns:

        class Probe(BaseModel):
            value: str = Field(pattern=pattern)

        with pytest.raises(ValidationError) as err:
            Probe.model_validate({"value": "\x00 nothing\nlike it"})
        words = describe(err.value.errors()[0])
        assert "pattern" not in words and "should" not in words, (pattern, words)
        assert ' like "' in words, (pattern, words)
