"""Twilio SMS in the contract suite: the local Twilio, recorded webhook forms signed over the relay's URL."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from relay.model import Address
from tests.connectors.twilio_sms.fake import FakeTwilio
from tests.connectors.twilio_sms.fake_account import TOKEN
from tests.connectors.twilio_sms.fake_webhooks import twilio_signature
from tests.connectors.twilio_sms.helpers import CUSTOMER, sms_config
from tests.contract.case import ContractCase, Payload, recorded

HERE = Path(__file__).parent / "payloads"
DEFAULT_URL = "http://127.0.0.1:8080/hooks/subject"


def signed_for(path: str) -> Callable[[bytes], Mapping[str, str]]:
    def sign(body: bytes) -> Mapping[str, str]:
        params = parse_qsl(body.decode(), keep_blank_values=True)
        return {
            "X-Twilio-Signature": twilio_signature(TOKEN, DEFAULT_URL + path, params),
            "Content-Type": "application/x-www-form-urlencoded",
        }

    return sign


def _config(base: str) -> dict[str, Any]:
    return sms_config(base)


def _address(instance: str) -> Address:
    return Address(instance, CUSTOMER)


CASE = ContractCase(
    fake=FakeTwilio,
    config=_config,
    payloads=(
        Payload("sms", recorded(HERE, "sms.form"), signed_for("/")),
        Payload("mms", recorded(HERE, "mms.form"), signed_for("/")),
        Payload("stop", recorded(HERE, "stop.form"), signed_for("/")),
        Payload("status delivered", recorded(HERE, "status_delivered.form"), signed_for("/status"), "/status"),
        Payload("status sending", recorded(HERE, "status_sending.form"), signed_for("/status"), "/status", False),
    ),
    address=_address,
)
