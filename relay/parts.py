"""A keyed id for one part of a message: the same on every redelivery, different for each part the core split."""

from __future__ import annotations

from relay.model import Message
from relay.seal import Sealer


def part_id(sealer: Sealer, scope: str, message: Message) -> str:
    """A keyed digest of the message's dedup id and what tells its parts apart (text and files), for a
    platform's idempotency key or a marker the relay puts on what it posted; it reveals nothing."""
    files = ",".join(f"{a.name}:{a.size}" for a in message.attachments)
    return sealer.digest(f"{scope}:{message.dedup_id}|{message.text.plain}|{files}")
