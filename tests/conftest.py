"""Shared fixtures: build a workspace from a dict, start it on an ephemeral port, talk to it."""

from __future__ import annotations

import copy
import secrets
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from relay import config
from relay.app import RELAY_KEY, Relay, create_app

WORKSPACE_KEY = "test-workspace-key-0123456789abcdef"


def workspace(connectors: dict[str, Any], routes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A workspace config dict with a fixed test key."""
    raw: dict[str, Any] = {
        "workspace": {"id": "test", "keys": [{"id": "k1", "secret": WORKSPACE_KEY}]},
        "connectors": copy.deepcopy(connectors),
        "routes": routes,
    }
    raw.update(extra)
    return raw


def sandbox_workspace() -> dict[str, Any]:
    return workspace(
        {"webchat": {"type": "webchat"}, "inbox": {"type": "inbox", "access_key": "inbox-test-key-123456"}},
        [{"from": ["webchat"], "to": "inbox"}],
    )


RelayFactory = Callable[..., Awaitable[tuple[TestClient[Any, Any], Relay]]]


@pytest.fixture(autouse=True)
def own_tmpdir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test its own TMPDIR (for this process and the relays it starts), so what one test leaves in a
    temporary directory is its own and another process's files never come and go under its scans."""
    own = tmp_path_factory.mktemp("tmpdir")
    monkeypatch.setenv("TMPDIR", str(own))
    monkeypatch.setattr(tempfile, "tempdir", str(own))
    yield own


@pytest.fixture
def start_relay(aiohttp_client: Any) -> RelayFactory:
    """Start a relay for a workspace dict; returns (client, relay)."""

    async def start(raw: dict[str, Any], **server: Any) -> tuple[TestClient[Any, Any], Relay]:
        loaded = config.parse(raw, "<test>")
        app: web.Application = await create_app(loaded)
        client = await aiohttp_client(app, server_kwargs=server)
        return client, app[RELAY_KEY]

    return start


@pytest.fixture
def canary() -> str:
    """A unique string that must never reach a log, file or error."""
    return "CANARY" + secrets.token_hex(8)


@pytest.fixture
async def crm_sink(aiohttp_server: Any) -> tuple[Any, str]:
    """A fake CRM webhook endpoint: (sink, url)."""
    from tests.support.crm_sink import CrmSink

    sink = CrmSink()
    server = await aiohttp_server(sink.app())
    return sink, str(server.make_url("/crm"))


def webhook_workspace(crm_url: str, **crm: Any) -> dict[str, Any]:
    """webchat -> webhook CRM at crm_url."""
    from tests.support.crm_sink import SINK_SECRET

    return workspace(
        {"webchat": {"type": "webchat"}, "crm": {"type": "webhook", "url": crm_url, "secret": SINK_SECRET, **crm}},
        [{"from": ["webchat"], "to": "crm"}],
    )


async def chat_token(client: Any, instance: str = "webchat") -> dict[str, str]:
    """Headers for a new webchat visitor."""
    resp = await client.post(f"/hooks/{instance}/api/session")
    return {"X-Webchat-Token": (await resp.json())["token"]}
