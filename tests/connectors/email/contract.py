"""The e-mail connector in the contract suite: SMTP submission against the in-process fake; mail comes in
over IMAP, not webhooks, so there are no recorded webhook payloads (recorded mails are in payloads/)."""

from __future__ import annotations

from typing import Any

from relay.model import Address
from tests.connectors.email.fake import FakeSubmission
from tests.contract.case import ContractCase


def _connect(fake: Any, base: str) -> dict[str, Any]:
    assert isinstance(fake, FakeSubmission)
    return fake.config()


def _config(base: str) -> dict[str, Any]:
    raise AssertionError("the e-mail case builds its config from the fake (connect)")


CASE = ContractCase(
    fake=FakeSubmission,
    config=_config,
    connect=_connect,
    address=lambda instance: Address(instance, "ana@example.org", handle="root-1@example.org"),
)
