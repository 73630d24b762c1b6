"""E-mail through Microsoft Graph: a Microsoft 365 mailbox as a channel, app-only, without IMAP."""

from typing import Any

from connectors.graphmail.config import GraphMailConfig
from connectors.graphmail.connector import MANIFEST, GraphMailConnector

EXAMPLE_CONFIG: dict[str, Any] = {
    "type": "graphmail",
    "address": "support@contoso.example",
    "tenant_id": "00000000-0000-0000-0000-000000000000",
    "client_id": "11111111-1111-1111-1111-111111111111",
    "client_secret": "doc-client-secret-4b8e1f7a",
    "client_state": "doc-client-state-9c2d5e8f1a3b",
}

__all__ = ["EXAMPLE_CONFIG", "MANIFEST", "GraphMailConfig", "GraphMailConnector"]
