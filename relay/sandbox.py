"""The built-in sandbox workspace: a customer chat page and an agent inbox, all in memory."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from relay.exposure import Exposure, is_loopback

KEY_ENV = "RELAY_SANDBOX_KEY"


def sandbox_config(host: str = "127.0.0.1", port: int = 8080) -> dict[str, Any]:
    """A workspace with `webchat` routed to `inbox`; its key is random and lives only in memory.
    Beyond loopback the inbox needs an access key, taken from the environment: RELAY_SANDBOX_KEY."""
    inbox: dict[str, Any] = {"type": "inbox"}
    if not is_loopback(host):
        inbox["access_key"] = "${" + KEY_ENV + "}"
    return {
        "server": {"host": host, "port": port},
        "workspace": {"id": "sandbox", "keys": [{"id": "k1", "secret": secrets.token_urlsafe(32)}]},
        "connectors": {
            "webchat": {"type": "webchat", "title": "Chat with us"},
            "inbox": inbox,
        },
        "routes": [{"from": ["webchat"], "to": "inbox"}],
    }


def sandbox_problems(host: str, environ: Mapping[str, str]) -> list[str]:
    """Why the sandbox cannot listen on `host`: beyond loopback it needs RELAY_SANDBOX_KEY in the environment."""
    if is_loopback(host) or environ.get(KEY_ENV, "").strip():
        return []
    why = Exposure(host, source="<sandbox>").why()
    return [
        f"<sandbox>: connectors.inbox.access_key: {why}, so the agent inbox needs an access key: without one, "
        "anyone who reaches the relay could read and answer every conversation. "
        f'export {KEY_ENV}="$(openssl rand -base64 24)" (the key agents type into the inbox page; it is read '
        "from the environment, not stored anywhere) and start again, or listen on loopback only (--host 127.0.0.1)"
    ]
