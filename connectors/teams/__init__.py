"""Microsoft Teams connector over the Bot Framework REST protocol (msal tokens out, PyJWT-checked in)."""

from typing import Any

from connectors.teams.config import CertificateCredential, TeamsConfig
from connectors.teams.connector import MANIFEST, TeamsConnector

EXAMPLE_CONFIG: dict[str, Any] = {
    "type": "teams",
    "app_id": "00000000-0000-0000-0000-000000000000",
    "app_secret": "fake-teams-app-secret-not-real",
    "tenant_id": "11111111-1111-1111-1111-111111111111",
}

__all__ = ["EXAMPLE_CONFIG", "MANIFEST", "CertificateCredential", "TeamsConfig", "TeamsConnector"]
