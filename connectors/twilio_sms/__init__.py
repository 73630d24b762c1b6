"""Twilio SMS/MMS connector: signed webhooks in, the Messages API out, reconciliation from Twilio's log."""

from typing import Any

from connectors.twilio_sms.config import TwilioSmsConfig
from connectors.twilio_sms.connector import MANIFEST, TwilioSmsConnector

EXAMPLE_CONFIG: dict[str, Any] = {
    "type": "twilio_sms",
    "account_sid": "AC" + "0" * 32,
    "auth_token": "doc-twilio-auth-token-5b1d4806",
    "from_number": "+15550001111",
    "number_type": "long_code",
}

__all__ = ["EXAMPLE_CONFIG", "MANIFEST", "TwilioSmsConfig", "TwilioSmsConnector"]
