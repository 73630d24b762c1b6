"""Kannel in the contract suite: the local sendsms stand-in (Kannel's callbacks are GETs, tested in
test_kannel.py with recorded queries, and end to end against the real gateway in test_peer_e2e.py)."""

from __future__ import annotations

from typing import Any

from relay.model import Address
from tests.connectors.kannel.fake import PASSWORD, USERNAME, FakeKannel
from tests.contract.case import ContractCase

SECRET = "kannel-callback-secret-4f7c2a91d0"
CUSTOMER = "+4915112345678"


def kannel_config(base: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "kannel",
        "sendsms_url": f"{base}/cgi-bin/sendsms",
        "username": USERNAME,
        "password": PASSWORD,
        "callback_secret": SECRET,
        "from_number": "+15550001111",
        **extra,
    }


def _address(instance: str) -> Address:
    return Address(instance, CUSTOMER)


CASE = ContractCase(fake=FakeKannel, config=kannel_config, address=_address)
