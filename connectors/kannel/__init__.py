"""Kannel connector: SMS through a self-hosted Kannel gateway, callbacks authenticated by URL secret and address."""

from typing import Any

from connectors.kannel.config import KannelConfig
from connectors.kannel.connector import MANIFEST, KannelConnector

EXAMPLE_CONFIG: dict[str, Any] = {
    "type": "kannel",
    "sendsms_url": "http://127.0.0.1:13013/cgi-bin/sendsms",
    "username": "relay",
    "password": "doc-kannel-password-3e5b1d48",
    "callback_secret": "doc-kannel-callback-7f3a9c2e5b1d4806",
    "from_number": "+15550001111",
}

__all__ = ["EXAMPLE_CONFIG", "MANIFEST", "KannelConfig", "KannelConnector"]
