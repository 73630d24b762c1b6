"""Calls in the contract suite: the local Twilio (it serves recordings), a recorded generic event and a recorded
Twilio Voice callback; nothing can be sent to a call (`sends: False`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from relay.http import sign
from relay.model import Address
from tests.connectors.twilio_sms.fake import FakeTwilio
from tests.connectors.twilio_sms.fake_account import ACCOUNT, TOKEN
from tests.connectors.twilio_sms.fake_webhooks import twilio_signature
from tests.contract.case import ContractCase, Payload, recorded

HERE = Path(__file__).parent / "payloads"
CALLS_SECRET = "calls-event-secret-8c1f4e2a7b90"
CUSTOMER = "+4915112345678"


def calls_config(base: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "calls",
        "secret": CALLS_SECRET,
        "twilio_auth_token": TOKEN,
        "twilio_account_sid": ACCOUNT,
        "twilio_api_base_url": base,
        "media_hosts": ["127.0.0.1:*"],
        **extra,
    }


def event_body(call_id: str, status: str, customer: str, **more: Any) -> dict[str, Any]:
    return {"id": call_id, "status": status, "direction": "inbound", "from": customer, "to": "+15550001111", **more}


def signed_event(body: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, {"X-Relay-Signature": sign(CALLS_SECRET.encode(), raw), "Content-Type": "application/json"}


def _signed(raw: bytes) -> Mapping[str, str]:
    return {"X-Relay-Signature": sign(CALLS_SECRET.encode(), raw), "Content-Type": "application/json"}


def _twilio_signed(raw: bytes) -> Mapping[str, str]:
    params = parse_qsl(raw.decode(), keep_blank_values=True)
    url = "http://127.0.0.1:8080/hooks/subject/twilio"
    return {
        "X-Twilio-Signature": twilio_signature(TOKEN, url, params),
        "Content-Type": "application/x-www-form-urlencoded",
    }


def _address(instance: str) -> Address:
    return Address(instance, CUSTOMER)


CASE = ContractCase(
    fake=FakeTwilio,
    config=calls_config,
    payloads=(
        Payload("generic missed call", recorded(HERE, "missed.json"), _signed, "/events"),
        Payload("twilio dial no-answer", recorded(HERE, "twilio_no_answer.form"), _twilio_signed, "/twilio"),
        Payload("twilio in-progress", recorded(HERE, "twilio_in_progress.form"), _twilio_signed, "/twilio", False),
    ),
    address=_address,
    sends=False,
)
