"""Recording what the engine hands a connector, for tests that check the Message itself."""

from __future__ import annotations

from relay.app import Relay
from relay.connector import Connector
from relay.errors import DeliveryError
from relay.model import Message


def handed_to(relay: Relay, name: str = "inbox") -> list[Message]:
    """Every Message the engine hands connector `name` from now on (recorded before it sends)."""
    conn: Connector = relay.connectors[name]
    seen: list[Message] = []
    real = conn.send

    async def send(message: Message) -> str:
        seen.append(message)
        return await real(message)

    conn.send = send  # type: ignore[method-assign]
    return seen


def refuse_once(relay: Relay, error: DeliveryError, name: str = "inbox") -> None:
    """Connector `name` refuses the next send with `error`, then sends as before."""
    conn: Connector = relay.connectors[name]
    refusals, real = [error], conn.send

    async def send(message: Message) -> str:
        if refusals:
            raise refusals.pop()
        return await real(message)

    conn.send = send  # type: ignore[method-assign]
