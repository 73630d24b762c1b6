"""BottleCRM in the contract suite: its fake holding the contact the recorded webhooks name, signed payloads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relay.http import sign
from relay.model import Address
from relay.seal import Sealer, WorkspaceKey
from tests.conftest import WORKSPACE_KEY
from tests.connectors.bottlecrm.fake import PAYLOADS, SECRET, TOKEN, FakeCrm, payload
from tests.contract.case import ContractCase, Payload, recorded

VISITOR = "5f1e0c2a9b8d4e7fa1b2c3d4e5f60718"


def _signed(body: bytes) -> Mapping[str, str]:
    return {"X-BottleCRM-Signature": sign(SECRET.encode(), body), "Content-Type": "application/json"}


def _config(base: str) -> dict[str, Any]:
    return {"type": "bottlecrm", "api_base_url": base, "api_token": TOKEN, "webhook_secret": SECRET}


def _fake() -> FakeCrm:
    """The fake, with the contact the recorded interaction names, its notes pointing at a web chat visitor."""
    crm = FakeCrm()
    sealed = Sealer("test", [WorkspaceKey("k1", WORKSPACE_KEY.encode())]).seal(Address("chat", VISITOR))
    rid = payload("interaction_created")["data"]["contact_id"]
    crm.add("contact", rid, first_name="Ana", last_name="Silva", description=f"relay-conversation: {sealed}")
    return crm


CASE = ContractCase(
    fake=_fake,
    config=_config,
    payloads=(
        Payload("interaction created", recorded(PAYLOADS, "interaction_created.json"), _signed),
        Payload("ping", recorded(PAYLOADS, "ping.json"), _signed, delivers=False),
        Payload(
            "comment (not the reply source)", recorded(PAYLOADS, "ticket_comment_added.json"), _signed, delivers=False
        ),
    ),
)
