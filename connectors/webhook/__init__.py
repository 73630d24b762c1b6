"""Generic CRM webhook connector: signed JSON both ways, for any CRM with automation webhooks."""

from typing import Any

from connectors.webhook.config import WebhookConfig
from connectors.webhook.connector import MANIFEST, WebhookConnector

EXAMPLE_CONFIG: dict[str, Any] = {
    "type": "webhook",
    "url": "https://crm.example.com/relay",
    "secret": "doc-hmac-secret-7f3a9c2e5b1d4806",
}

__all__ = ["EXAMPLE_CONFIG", "MANIFEST", "WebhookConfig", "WebhookConnector"]
