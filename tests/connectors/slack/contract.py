"""Slack in the contract suite: the Web API fake, recorded Events API envelopes signed with v0."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from relay.model import Address
from tests.connectors.slack.fake_slack import BOT_TOKEN, PAYLOADS, SIGNING_SECRET, FakeSlack, signed
from tests.contract.case import ContractCase, Payload, recorded

DELIVERED = (
    "message_im",
    "thread_reply",
    "message_channel",
    "file_share",
    "message_changed",
    "reaction_added",
    "reaction_removed",
    "message_deleted",
)
IGNORED = ("own_bot_echo", "other_bot", "url_verification")


def _signed(body: bytes) -> Mapping[str, str]:
    return signed(body)


def _form_signed(body: bytes) -> Mapping[str, str]:
    return signed(body) | {"Content-Type": "application/x-www-form-urlencoded"}


def _form(name: str) -> bytes:
    """A recorded interaction payload as Slack posts it: `payload=<JSON>` in a form body."""
    return urlencode({"payload": recorded(PAYLOADS, name).decode()}).encode()


def _config(base: str) -> dict[str, Any]:
    return {"type": "slack", "bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET, "api_base_url": f"{base}/api/"}


def _address(instance: str) -> Address:
    return Address(instance, "C0SHARED01", "1736935300.000100")


CASE = ContractCase(
    fake=FakeSlack,
    config=_config,
    payloads=(
        *(Payload(n, recorded(PAYLOADS, f"{n}.json"), _signed, "/events") for n in DELIVERED),
        *(Payload(n, recorded(PAYLOADS, f"{n}.json"), _signed, "/events", delivers=False) for n in IGNORED),
        Payload("block_actions", _form("block_actions.json"), _form_signed, "/interactions"),
    ),
    address=_address,
    # Slack hands out upload URLs on its file hosts; the fake serves them on loopback.
    extra={"media": {"allowlist": ["127.0.0.1:*"]}, "network": {"allow_private": ["127.0.0.1/32"]}},
)
