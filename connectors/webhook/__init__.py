"""Generic CRM webhook connector: signed JSON both ways, for any CRM with automation webhooks."""

from typing import Any

from connectors.webhook.config import WebhookConfig
from connectors.webhook.connector import MANIFEST, WebhookConnector

EXAMPLE_CONFIG: dict[str, Any] = {
    "type": "webhook",
    "url": "https://crm.example.com/relay",
    "secret": "example-secret-0123456789",
}

__all__ = ["EXAMPLE_CONFIG", "MANIFEST", "WebhookConfig", "WebhookConnector"]
