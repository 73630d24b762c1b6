"""Web chat: a customer-facing chat page served by the relay; replies held in memory until read."""

from connectors.webchat.connector import MANIFEST, WebchatConfig, WebchatConnector

__all__ = ["MANIFEST", "WebchatConfig", "WebchatConnector"]
