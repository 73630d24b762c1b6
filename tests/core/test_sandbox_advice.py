"""The sandbox's advice beyond loopback is advice that works: the key it names is the one it reads."""

from __future__ import annotations

import os
from typing import cast

import pytest

from connectors.inbox import InboxConfig
from relay import config
from relay.sandbox import KEY_ENV, sandbox_config, sandbox_problems
from tests.core.test_cli import run

KEY = "sandbox-key-7f3a9c2e5b1d4806"


def test_beyond_loopback_the_advice_is_to_export_the_key_the_sandbox_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    (problem,) = sandbox_problems("0.0.0.0", {})
    assert f'export {KEY_ENV}="$(openssl rand -base64 24)"' in problem
    assert "relay secrets set" not in problem
    assert "anyone who reaches the relay could read and answer every conversation" in problem
    assert sandbox_problems("0.0.0.0", {KEY_ENV: KEY}) == []
    assert sandbox_problems("127.0.0.1", {}) == []
    monkeypatch.setenv(KEY_ENV, KEY)
    loaded = config.parse(sandbox_config("0.0.0.0", 8080), "<sandbox>")
    inbox = cast(InboxConfig, loaded.instances["inbox"].config)
    assert inbox.access_key is not None and inbox.access_key.reveal() == KEY


def test_relay_run_beyond_loopback_without_the_key_gives_that_advice() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("RELAY_CONFIG", KEY_ENV)}
    out = run("run", "--host", "0.0.0.0", "--port", "0", env=env | {KEY_ENV: ""})
    assert out.returncode == 2
    assert f"export {KEY_ENV}=" in out.stderr and "relay secrets set" not in out.stderr
    assert "open http://" not in out.stderr
