"""Agent inbox: a CRM stand-in served by the relay, holding conversations in memory only."""

from typing import Any

from connectors.inbox.config import InboxConfig
from connectors.inbox.connector import MANIFEST, InboxConnector

EXAMPLE_CONFIG: dict[str, Any] = {"type": "inbox", "access_key": "doc-access-key-3c9e7a1f5b2d8046"}

__all__ = ["EXAMPLE_CONFIG", "MANIFEST", "InboxConfig", "InboxConnector"]
