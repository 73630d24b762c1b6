"""`state.sentinels` and `state.service_name`: Redis through Sentinel, settings checked with a path and a fix."""

from __future__ import annotations

from typing import Any

import pytest

from relay.config import parse
from relay.errors import ConfigError
from tests.conftest import sandbox_workspace


def _with_state(state: dict[str, Any]) -> dict[str, Any]:
    raw = sandbox_workspace()
    raw["state"] = state
    return raw


def test_sentinels_need_a_service_name_and_host_port() -> None:
    with pytest.raises(ConfigError, match="service_name"):
        parse(_with_state({"backend": "redis", "sentinels": ["127.0.0.1:26379"]}))
    with pytest.raises(ConfigError, match="host:port"):
        parse(_with_state({"backend": "redis", "sentinels": ["nowhere"], "service_name": "relay"}))
    with pytest.raises(ConfigError, match="exclude each other"):
        parse(_with_state({"backend": "redis", "url": "redis://h/0", "sentinels": ["h:1"], "service_name": "r"}))


def test_sentinel_settings_are_accepted_and_the_password_is_masked() -> None:
    state = {"backend": "redis", "sentinels": ["10.0.0.1:26379", "[::1]:26380"], "service_name": "relay"}
    loaded = parse(_with_state({**state, "password": "s3cret-redis-pw"}))
    assert loaded.relay.state.sentinels == state["sentinels"]
    assert "s3cret-redis-pw" in loaded.secrets()
    assert "s3cret" not in repr(loaded.relay.state)
