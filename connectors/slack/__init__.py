"""Slack connector: shared channels and DMs to the company's app, both ways."""

from typing import Any

from connectors.slack.config import SlackConfig
from connectors.slack.connector import MANIFEST, SlackConnector

EXAMPLE_CONFIG: dict[str, Any] = {
    "type": "slack",
    "bot_token": "xoxb-0000000000-fake-bot-token",
    "signing_secret": "fake-signing-secret-0123456789abcdef",
    "channels": ["C0FAKE0001"],
}

__all__ = ["EXAMPLE_CONFIG", "MANIFEST", "SlackConfig", "SlackConnector"]
