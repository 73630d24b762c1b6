"""Agent inbox: a CRM stand-in served by the relay, holding conversations in memory only."""

from connectors.inbox.connector import MANIFEST, InboxConfig, InboxConnector

__all__ = ["MANIFEST", "InboxConfig", "InboxConnector"]
