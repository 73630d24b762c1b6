"""HubSpot in the contract suite: its fake seeded as connected, recorded v3-signed webhook events."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.connectors.hubspot.fake import CLIENT_SECRET, FakeHubSpot
from tests.connectors.hubspot.helpers import hs_config
from tests.connectors.hubspot.sender import v3_headers
from tests.contract.case import ContractCase, Payload, recorded

HERE = Path(__file__).parent / "payloads"
HOOK = "http://127.0.0.1:8080/hooks/subject"


def _signed(body: bytes) -> Mapping[str, str]:
    return v3_headers(CLIENT_SECRET, HOOK, body)


def _fake() -> FakeHubSpot:
    fake = FakeHubSpot()
    fake.seed(HOOK, ("chat",))
    return fake


def _config(base: str) -> dict[str, Any]:
    return hs_config(base, "1001", {"chat": "2001"})


CASE = ContractCase(
    fake=_fake,
    config=_config,
    payloads=(
        Payload("agent reply", recorded(HERE, "outgoing_message.json"), _signed, path=""),
        Payload("channel account created", recorded(HERE, "channel_account_created.json"), _signed, "", False),
        Payload("the relay's own message", recorded(HERE, "incoming_echo.json"), _signed, "", False),
    ),
)
