"""HubSpot connector: customers' messages in the HubSpot inbox through a custom channel; agents answer there."""

from typing import Any

from connectors.hubspot.config import HubSpotConfig
from connectors.hubspot.connector import MANIFEST, HubSpotConnector

EXAMPLE_CONFIG: dict[str, Any] = {
    "type": "hubspot",
    "app_id": 1234567,
    "client_id": "5f1e2d3c-0000-4a5b-9c8d-7e6f5a4b3c2d",
    "client_secret": "example-client-secret-0123456789",
    "refresh_token": "example-refresh-token-0123456789",
    "channel_id": "1001",
    "accounts": {"webchat": "2001"},
}

__all__ = ["EXAMPLE_CONFIG", "MANIFEST", "HubSpotConfig", "HubSpotConnector"]
