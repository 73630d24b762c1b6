"""Agent inbox: a CRM stand-in served by the relay, holding conversations in memory only."""

from typing import Any

from connectors.inbox.config import InboxConfig
from connectors.inbox.connector import MANIFEST, InboxConnector

EXAMPLE_CONFIG: dict[str, Any] = {"type": "inbox", "access_key": "example-access-key-0123"}

__all__ = ["EXAMPLE_CONFIG", "MANIFEST", "InboxConfig", "InboxConnector"]
