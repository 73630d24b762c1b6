"""WhatsApp Business Cloud API connector (Graph API over aiohttp, no wrapper library)."""

from typing import Any

from connectors.whatsapp.config import TemplateConfig, WhatsAppConfig
from connectors.whatsapp.connector import MANIFEST, WhatsAppConnector

EXAMPLE_CONFIG: dict[str, Any] = {
    "type": "whatsapp",
    "phone_number_id": "109876543210",
    "business_account_id": "102290129340398",
    "access_token": "EAAG-fake-access-token-for-docs",
    "app_secret": "fake-app-secret-0123456789",
    "verify_token": "fake-verify-token-0123456789",
}

__all__ = ["EXAMPLE_CONFIG", "MANIFEST", "TemplateConfig", "WhatsAppConfig", "WhatsAppConnector"]
