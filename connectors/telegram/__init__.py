"""Telegram connector: a bot receives customers' messages (webhook or long polling) and sends answers."""

from typing import Any

from connectors.telegram.config import TelegramConfig
from connectors.telegram.connector import MANIFEST, TelegramConnector

EXAMPLE_CONFIG: dict[str, Any] = {
    "type": "telegram",
    "token": "123456789:EXAMPLE-not-a-real-token-abcdefghij",
    "mode": "webhook",
    "secret_token": "doc-secret-token-5e8b2f7a9c1d3064",
}

__all__ = ["EXAMPLE_CONFIG", "MANIFEST", "TelegramConfig", "TelegramConnector"]
