"""Zendesk connector through Sunshine Conversations: the relay is a custom integration of the app."""

from typing import Any

from connectors.zendesk.config import ZendeskConfig
from connectors.zendesk.connector import MANIFEST, ZendeskConnector

EXAMPLE_CONFIG: dict[str, Any] = {
    "type": "zendesk",
    "subdomain": "acme",
    "app_id": "5ebee0975ac5304b664a12fa",
    "key_id": "app_5f0e8a1c2b3d4e5f6a7b8c9d",
    "key_secret": "example-key-secret-0123456789",
    "webhook_secret": "example-webhook-secret-0123456789",
}

__all__ = ["EXAMPLE_CONFIG", "MANIFEST", "ZendeskConfig", "ZendeskConnector"]
