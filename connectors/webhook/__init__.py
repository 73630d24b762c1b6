"""Generic CRM webhook connector: signed JSON both ways, for any CRM with automation webhooks."""

from connectors.webhook.connector import MANIFEST, WebhookConnector
from connectors.webhook.convert import WebhookConfig

__all__ = ["MANIFEST", "WebhookConfig", "WebhookConnector"]
