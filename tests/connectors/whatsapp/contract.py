"""WhatsApp in the contract suite: the Graph API fake, recorded notifications signed with the app secret."""

from __future__ import annotations

from collections.abc import Mapping

from relay.model import Address
from tests.connectors.whatsapp.fake_graph import FakeGraph
from tests.connectors.whatsapp.helpers import CUSTOMER, payload, signature, wa_config
from tests.contract.case import ContractCase, Payload

RECORDED = (
    "text",
    "media",
    "types",
    "multi_entry",
    "unicode",
    "statuses",
    "failed_131047",
    "bsuid_text",
    "interactive_replies",
    "reaction",
    "bsuid_statuses",
)


def _signed(body: bytes) -> Mapping[str, str]:
    return signature(body)


def _address(instance: str) -> Address:
    return Address(instance, CUSTOMER)


CASE = ContractCase(
    fake=FakeGraph,
    config=wa_config,
    payloads=(
        *(Payload(n, payload(f"{n}.json"), _signed) for n in RECORDED),
        Payload("replayed after Meta's redelivery window", payload("text.json", fresh=False), _signed, delivers=False),
    ),
    address=_address,
    opener=Payload("customer writes first", payload("text.json"), _signed),
)
