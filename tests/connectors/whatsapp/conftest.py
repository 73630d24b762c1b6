"""Fixtures: the fake Graph API, a fake CRM, and a relay wired to both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from connectors.whatsapp.connector import WhatsAppConnector
from relay.app import Relay
from tests.conftest import RelayFactory, workspace
from tests.connectors.whatsapp.fake_graph import FakeGraph
from tests.connectors.whatsapp.helpers import INBOX_KEY, sink_config, wa_config
from tests.support.crm_sink import CrmSink


@dataclass
class Env:
    client: TestClient[Any, Any]
    relay: Relay
    graph: FakeGraph
    sink: CrmSink | None = None

    @property
    def wa(self) -> WhatsAppConnector:
        conn = self.relay.connectors["wa"]
        assert isinstance(conn, WhatsAppConnector)
        return conn


@pytest.fixture
async def graph(aiohttp_server: Any) -> FakeGraph:
    fake = FakeGraph()
    server = await aiohttp_server(fake.app())
    fake.base = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture
async def sink(aiohttp_server: Any) -> tuple[CrmSink, str]:
    crm = CrmSink()
    server = await aiohttp_server(crm.app())
    return crm, str(server.make_url("/crm"))


@pytest.fixture
def make_env(start_relay: RelayFactory, graph: FakeGraph, sink: tuple[CrmSink, str]) -> Any:
    """Start a relay: `crm="sink"` (webhook CRM recording JSON) or `crm="inbox"`; extra keys go to the wa config."""

    async def make(crm: str = "sink", loopback: bool = True, **extra: Any) -> Env:
        crm_cfg = sink_config(sink[1]) if crm == "sink" else {"type": "inbox", "access_key": INBOX_KEY}
        raw = workspace(
            {"wa": wa_config(graph.base, **extra), "crm": crm_cfg},
            [{"from": ["wa"], "to": "crm"}],
            network={"allow_private": ["127.0.0.1/32"] if loopback else []},  # the fake serves media URLs here
        )
        client, relay = await start_relay(raw)
        return Env(client, relay, graph, sink[0] if crm == "sink" else None)

    return make
