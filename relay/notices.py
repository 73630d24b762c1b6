"""What the sender's side learns, without content, when a message could not be delivered."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from relay.connector import Connector, ConnectorKind
from relay.guard import Guard
from relay.metrics import Metrics
from relay.model import Kind, Message, Status
from relay.reasons import Reason
from relay.richtext import RichText

log = logging.getLogger("relay.engine")

NOTICE_TEXT = "⚠️ Your message could not be delivered. Please try again later."


def notice_for(origin: Connector, failed: Message, reason: Reason) -> Message:
    """A notice to a customer on a messenger, or a failed-status event for a CRM."""
    if origin.manifest.kind is ConnectorKind.MESSENGER:
        return Message(
            kind=Kind.NOTICE,
            id=f"notice:{failed.id}",
            origin=failed.origin,
            conversation=failed.conversation,
            text=RichText.of(NOTICE_TEXT),
            reason=reason,
        )
    return Message(
        kind=Kind.STATUS,
        id=f"status:{failed.id}",
        origin=failed.origin,
        conversation=failed.conversation,
        ref=failed.id,
        status=Status.FAILED,
        reason=reason,
    )


async def notify(
    connectors: Mapping[str, Connector],
    guard: Guard | None,
    metrics: Metrics,
    failed: Message,
    reason: Reason,
    log_id: str,
) -> None:
    """Send the notice to the failed message's origin (a customer who opted out gets none)."""
    origin = connectors.get(failed.origin)
    if origin is None:
        return
    messenger = origin.manifest.kind is ConnectorKind.MESSENGER
    if messenger and guard is not None and not await guard.allows(origin, failed.conversation):
        return
    try:
        await origin.send(notice_for(origin, failed, reason))
        metrics.inc("relay_notices_total", connector=failed.origin, reason=reason.label)
    except Exception as exc:
        log.warning("notice not sent", extra={"msg_id": log_id, "error": type(exc).__name__})
