"""The built-in sandbox workspace: a customer chat page and an agent inbox, all in memory."""

from __future__ import annotations

import secrets
from typing import Any


def sandbox_config(host: str = "127.0.0.1", port: int = 8080) -> dict[str, Any]:
    """A workspace with `webchat` routed to `inbox`; its key is random and lives only in memory."""
    return {
        "server": {"host": host, "port": port},
        "workspace": {"id": "sandbox", "keys": [{"id": "k1", "secret": secrets.token_urlsafe(32)}]},
        "connectors": {
            "webchat": {"type": "webchat", "title": "Chat with us"},
            "inbox": {"type": "inbox"},
        },
        "routes": [{"from": ["webchat"], "to": "inbox"}],
    }
