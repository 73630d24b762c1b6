"""Web chat: a customer-facing chat page served by the relay; replies held in memory until read."""

from typing import Any

from connectors.webchat.config import WebchatConfig
from connectors.webchat.connector import MANIFEST, WebchatConnector

EXAMPLE_CONFIG: dict[str, Any] = {"type": "webchat"}

__all__ = ["EXAMPLE_CONFIG", "MANIFEST", "WebchatConfig", "WebchatConnector"]
