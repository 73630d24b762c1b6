"""Telegram in the contract suite: the Bot API fake, recorded updates signed with the secret token."""

from __future__ import annotations

from collections.abc import Mapping

from relay.model import Address
from tests.connectors.telegram.fake_api import SECRET, FakeTelegram
from tests.connectors.telegram.helpers import PAYLOADS, SECRET_HEADER, tg_config
from tests.contract.case import ContractCase, Payload, recorded

DELIVERED = ("text", "photo", "document", "edited", "reply")


def _signed(body: bytes) -> Mapping[str, str]:
    return {SECRET_HEADER: SECRET, "Content-Type": "application/json"}


def _address(instance: str) -> Address:
    return Address(instance, "123456789", handle='{"chat_type":"private"}')


CASE = ContractCase(
    fake=FakeTelegram,
    config=tg_config,
    payloads=(
        *(
            Payload(n, recorded(PAYLOADS, f"{n}.json"), _signed)
            for n in ("text", "photo", "document", "edited", "reply")
        ),
        *(Payload(n, recorded(PAYLOADS, f"{n}.json"), _signed) for n in ("callback_query", "message_reaction")),
        Payload("member joined", recorded(PAYLOADS, "member_joined.json"), _signed, delivers=False),
    ),
    address=_address,
)
