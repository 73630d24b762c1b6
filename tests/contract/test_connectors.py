"""The contract every registered connector passes: manifest, config, secrets, routes authenticate, clean close."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from pydantic import ValidationError

from relay import registry
from relay.connector import Connector, ConnectorConfig, ConnectorKind, Manifest, Route
from relay.secret import Secret
from tests.conftest import RelayFactory, workspace

TYPES = registry.available()


def example(type_name: str) -> dict[str, Any]:
    module = importlib.import_module(f"connectors.{type_name}")
    config: dict[str, Any] = module.EXAMPLE_CONFIG
    return dict(config)


def test_the_connectors_of_this_project_are_registered() -> None:
    assert {"webhook", "webchat", "inbox"} <= set(TYPES)


@pytest.mark.parametrize("type_name", TYPES)
def test_manifest_is_complete(type_name: str) -> None:
    manifest = registry.load(type_name)
    assert isinstance(manifest, Manifest)
    assert manifest.type == type_name
    assert manifest.kind in (ConnectorKind.MESSENGER, ConnectorKind.CRM)
    assert issubclass(manifest.config, ConnectorConfig)
    assert issubclass(manifest.factory, Connector)
    assert manifest.factory.manifest is manifest
    caps = manifest.capabilities
    assert caps.max_text > 0 and caps.ack_deadline > 0
    assert all(limit.rate > 0 and limit.burst >= 1 for limit in caps.limits)


@pytest.mark.parametrize("type_name", TYPES)
def test_example_config_is_valid_and_unknown_keys_are_refused(type_name: str) -> None:
    manifest = registry.load(type_name)
    manifest.config.model_validate(example(type_name))
    with pytest.raises(ValidationError) as err:
        manifest.config.model_validate(example(type_name) | {"no_such_key": 1})
    assert err.value.errors()[0]["type"] == "extra_forbidden"


@pytest.mark.parametrize("type_name", TYPES)
def test_secrets_never_print(type_name: str) -> None:
    config = registry.load(type_name).config.model_validate(example(type_name))
    secrets = [v for v in config.__dict__.values() if isinstance(v, Secret)]
    for secret in secrets:
        assert secret.reveal() not in repr(config)
        assert secret.reveal() not in str(config)
    assert "***" in repr(config) or not secrets


def _workspace_for(type_name: str) -> dict[str, Any]:
    manifest = registry.load(type_name)
    if manifest.kind is ConnectorKind.MESSENGER:
        connectors = {"subject": example(type_name), "crm": example("inbox")}
        return workspace(connectors, [{"from": ["subject"], "to": "crm"}])
    connectors = {"chat": example("webchat"), "subject": example(type_name)}
    return workspace(connectors, [{"from": ["chat"], "to": "subject"}])


@pytest.mark.parametrize("type_name", TYPES)
async def test_every_non_public_route_refuses_unauthenticated_requests(
    type_name: str, start_relay: RelayFactory
) -> None:
    client, relay = await start_relay(_workspace_for(type_name))
    conn = relay.connectors["subject"]
    for route in conn.routes():
        if isinstance(route, Route) and route.public:
            continue
        path = "/hooks/subject" + route.path.replace("{ref}", "c2.k1.AAAA").replace("{token}", "x")
        for body in (b"", b"{}", b'{"type": "message", "text": "x"}'):
            resp = await client.request(route.method, path, data=body, headers={"Content-Type": "application/json"})
            assert resp.status in (401, 403), (route.method, path, resp.status)
    assert relay.metrics.value("relay_messages_total") == 0


@pytest.mark.parametrize("type_name", TYPES)
async def test_close_is_clean(type_name: str, start_relay: RelayFactory) -> None:
    client, relay = await start_relay(_workspace_for(type_name))
    assert (await client.get("/healthz")).status == 200
    await relay.connectors["subject"].close()
