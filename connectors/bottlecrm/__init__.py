"""BottleCRM (django-crm) CRM connector: REST API with a personal access token, signed webhooks back."""

from typing import Any

from connectors.bottlecrm.config import BottleCrmConfig
from connectors.bottlecrm.connector import MANIFEST, BottleCrmConnector

EXAMPLE_CONFIG: dict[str, Any] = {
    "type": "bottlecrm",
    "api_base_url": "https://crm.example.com",
    "api_token": "bcrm_pat_FAKEFAKEFAKEFAKEFAKEFAKE",
    "webhook_secret": "whsec_FAKEFAKEFAKEFAKEFAKEFAKE",
}

__all__ = ["EXAMPLE_CONFIG", "MANIFEST", "BottleCrmConfig", "BottleCrmConnector"]
