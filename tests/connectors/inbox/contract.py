"""The inbox in the contract suite: a CRM the relay serves itself, answered through its own API."""

from __future__ import annotations

from typing import Any

from tests.contract.case import ContractCase
from tests.support.no_platform import NoPlatform


def _config(base: str) -> dict[str, Any]:
    return {"type": "inbox", "access_key": "contract-inbox-key-0123456789"}


CASE = ContractCase(fake=NoPlatform, config=_config)
