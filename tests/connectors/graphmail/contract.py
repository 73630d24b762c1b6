"""Graph mail in the contract suite: the Graph fake over TLS; its recorded change notification (wakes the
sweep, delivers nothing by itself: the mailbox is the queue)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from relay.model import Address
from tests.connectors.graphmail.fake import FakeGraph
from tests.contract.case import ContractCase, Payload, recorded

HERE = Path(__file__).parent / "payloads"


def _connect(fake: Any, base: str) -> dict[str, Any]:
    assert isinstance(fake, FakeGraph)
    return fake.config()


def _config(base: str) -> dict[str, Any]:
    raise AssertionError("the Graph mail case builds its config from the started fake (connect)")


def _json(body: bytes) -> Mapping[str, str]:
    return {"Content-Type": "application/json"}


CASE = ContractCase(
    fake=FakeGraph,
    config=_config,
    connect=_connect,
    address=lambda instance: Address(instance, "ana@example.org", handle="root-1@example.org"),
    payloads=(
        Payload("created", recorded(HERE, "notification_created.json"), _json, "/notify", delivers=False),
        Payload("missed", recorded(HERE, "lifecycle_missed.json"), _json, "/lifecycle", delivers=False),
    ),
)
