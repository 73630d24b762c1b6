"""The web chat in the contract suite: a visitor's signed token, a recorded message from the page."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from relay.model import Address
from relay.seal import Sealer, WorkspaceKey
from tests.conftest import WORKSPACE_KEY
from tests.contract.case import ContractCase, Payload, recorded
from tests.support.no_platform import NoPlatform

HERE = Path(__file__).parent / "payloads"
VISITOR = "0123456789abcdef0123456789abcdef"


def _token(body: bytes) -> Mapping[str, str]:
    sealer = Sealer("test", [WorkspaceKey("k1", WORKSPACE_KEY.encode())])
    return {"X-Webchat-Token": f"{VISITOR}.{sealer.digest('webchat:subject:' + VISITOR)}"}


def _config(base: str) -> dict[str, Any]:
    return {"type": "webchat"}


CASE = ContractCase(
    fake=NoPlatform,
    config=_config,
    payloads=(Payload("message", recorded(HERE, "message.json"), _token, path="/api/messages"),),
    address=lambda instance: Address(instance, VISITOR),
)
