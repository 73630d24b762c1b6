"""The webhook CRM in the contract suite: the CRM sink as its fake, recorded signed answers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from relay.http import sign
from tests.contract.case import ContractCase, Payload, recorded
from tests.support.crm_sink import SINK_SECRET, CrmSink

HERE = Path(__file__).parent / "payloads"


def _signed(body: bytes) -> Mapping[str, str]:
    return {"X-Relay-Signature": sign(SINK_SECRET.encode(), body), "Content-Type": "application/json"}


def _config(base: str) -> dict[str, Any]:
    return {"type": "webhook", "url": f"{base}/crm", "secret": SINK_SECRET}


CASE = ContractCase(
    fake=CrmSink,
    config=_config,
    payloads=(
        Payload("answer", recorded(HERE, "answer.json"), _signed),
        Payload("edit", recorded(HERE, "edit.json"), _signed),
    ),
)
