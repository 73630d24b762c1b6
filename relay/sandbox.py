"""The built-in sandbox workspace: a customer chat page and an agent inbox, all in memory."""

from __future__ import annotations

import secrets
from typing import Any

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def sandbox_config(host: str = "127.0.0.1", port: int = 8080) -> dict[str, Any]:
    """A workspace with `webchat` routed to `inbox`; its key is random and lives only in memory.
    Beyond localhost the inbox needs an access key: RELAY_SANDBOX_KEY."""
    inbox: dict[str, Any] = {"type": "inbox"}
    if host not in LOOPBACK:
        inbox["access_key"] = "${RELAY_SANDBOX_KEY}"
    return {
        "server": {"host": host, "port": port},
        "workspace": {"id": "sandbox", "keys": [{"id": "k1", "secret": secrets.token_urlsafe(32)}]},
        "connectors": {
            "webchat": {"type": "webchat", "title": "Chat with us"},
            "inbox": inbox,
        },
        "routes": [{"from": ["webchat"], "to": "inbox"}],
    }
