"""python-telegram-bot raises its own error types: their mapping to the core's Reasons lives here."""

from __future__ import annotations

from datetime import timedelta

from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut

from connectors.telegram.transport import NotSent
from relay.errors import DeliveryError
from relay.reasons import Reason


def retry_after_seconds(exc: RetryAfter) -> float:
    """The wait a 429 asked for (a timedelta with PTB_TIMEDELTA, which the connector opts into)."""
    value = exc.retry_after
    if isinstance(value, timedelta):
        return max(0.0, value.total_seconds())
    return float(value) if isinstance(value, int | float) else 1.0


def delivery_error(exc: TelegramError) -> DeliveryError:
    """Map a PTB error to the relay's delivery semantics."""
    if isinstance(exc, RetryAfter):
        return DeliveryError(Reason.THROTTLED, retry_after=retry_after_seconds(exc), scope="chat")
    if isinstance(exc, Forbidden):
        return DeliveryError(Reason.RECIPIENT_UNREACHABLE)
    if isinstance(exc, InvalidToken):
        return DeliveryError(Reason.PLATFORM_AUTH_FAILED, scope="connector")
    if isinstance(exc, BadRequest):
        return DeliveryError(Reason.PLATFORM_REJECTED, detail=400)
    if isinstance(exc, TimedOut | NetworkError) and isinstance(exc.__cause__, NotSent):
        return DeliveryError(Reason.PLATFORM_UNREACHABLE, scope="connector")
    if isinstance(exc, TimedOut):
        return DeliveryError(Reason.PLATFORM_TIMEOUT)
    if isinstance(exc, NetworkError):
        return DeliveryError(Reason.PLATFORM_CONNECTION_LOST)
    return DeliveryError(Reason.PLATFORM_REJECTED)


def is_not_modified(exc: BadRequest) -> bool:
    """Telegram refuses an edit that changes nothing; for the relay that edit succeeded."""
    return "not modified" in exc.message.lower()


def is_no_text(exc: BadRequest) -> bool:
    """An edit of a media message must change its caption instead."""
    return "no text in the message" in exc.message.lower()
