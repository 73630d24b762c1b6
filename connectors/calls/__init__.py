"""Calls connector: call events from Twilio Voice or a PBX / answering service as CRM timeline entries."""

from typing import Any

from connectors.calls.config import CallsConfig
from connectors.calls.connector import MANIFEST, CallsConnector

EXAMPLE_CONFIG: dict[str, Any] = {
    "type": "calls",
    "secret": "doc-calls-hmac-secret-4e8b2c6a9d1f",
    "twilio_auth_token": "doc-twilio-auth-token-5b1d4806",
    "twilio_account_sid": "AC" + "0" * 32,
}

__all__ = ["EXAMPLE_CONFIG", "MANIFEST", "CallsConfig", "CallsConnector"]
