"""Bot API failures as content-free DeliveryErrors: retry only what Telegram clearly did not take."""

from __future__ import annotations

from datetime import timedelta

from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut

from connectors.telegram.transport import NotSent
from relay.errors import DeliveryError


def retry_after_seconds(exc: RetryAfter) -> float:
    """The wait a 429 asked for (a timedelta with PTB_TIMEDELTA, which the connector opts into)."""
    value = exc.retry_after
    if isinstance(value, timedelta):
        return max(0.0, value.total_seconds())
    return float(value) if isinstance(value, int | float) else 1.0


def delivery_error(exc: TelegramError) -> DeliveryError:
    """Map a PTB error to the relay's delivery semantics."""
    if isinstance(exc, RetryAfter):
        return DeliveryError("platform_throttled", retryable=True, retry_after=retry_after_seconds(exc), scope="chat")
    if isinstance(exc, Forbidden):
        return DeliveryError("recipient_unreachable", unreachable=True)
    if isinstance(exc, InvalidToken):
        return DeliveryError("platform_auth_failed", scope="connector")
    if isinstance(exc, BadRequest):
        return DeliveryError("platform_rejected_400")
    if isinstance(exc, TimedOut | NetworkError) and isinstance(exc.__cause__, NotSent):
        return DeliveryError("platform_unreachable", retryable=True, scope="connector")
    if isinstance(exc, TimedOut):
        return DeliveryError("platform_timeout")
    return DeliveryError("platform_error")


def is_not_modified(exc: BadRequest) -> bool:
    """Telegram refuses an edit that changes nothing; for the relay that edit succeeded."""
    return "not modified" in exc.message.lower()


def is_no_text(exc: BadRequest) -> bool:
    """An edit of a media message must change its caption instead."""
    return "no text in the message" in exc.message.lower()
