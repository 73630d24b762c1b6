"""Every failure the relay reports, as one enum: its meaning, its retry class and its metric label."""

from __future__ import annotations

from enum import StrEnum


class RetryClass(StrEnum):
    """What a source or the engine should do about a failure."""

    RETRY = "retry"
    RETRY_AFTER = "retry-after"
    PERMANENT = "permanent"
    BLOCKED = "blocked"


class Reason(StrEnum):
    """A content-free failure code; its value is what callers, logs and the metric label see."""

    # Transport to a platform or CRM, mapped once by the core's platform client.
    PLATFORM_UNREACHABLE = "platform_unreachable"
    PLATFORM_TIMEOUT = "platform_timeout"
    PLATFORM_CONNECTION_LOST = "platform_connection_lost"
    PLATFORM_BUSY = "platform_busy"
    PLATFORM_BAD_RESPONSE = "platform_bad_response"
    PLATFORM_REJECTED = "platform_rejected"
    PLATFORM_AUTH_FAILED = "platform_auth_failed"
    PLATFORM_MISCONFIGURED = "platform_misconfigured"
    HOST_NOT_ALLOWED = "host_not_allowed"
    THROTTLED = "throttled"
    TOKEN_UNAVAILABLE = "token_unavailable"
    # The recipient or the message.
    RECIPIENT_UNREACHABLE = "recipient_unreachable"
    INVALID_RECIPIENT = "invalid_recipient"
    OPTED_OUT = "opted_out"
    TEMPLATE_REQUIRED = "template_required"
    TEMPLATE_SENT = "template_sent"
    PAIR_RATE_LIMITED = "pair_rate_limited"
    EMPTY_MESSAGE = "empty_message"
    MESSAGE_TOO_LARGE = "message_too_large"
    FILE_TOO_LARGE = "file_too_large"
    MEDIA_UNAVAILABLE = "media_unavailable"
    UNSUPPORTED = "unsupported"
    UNKNOWN_MESSAGE = "unknown_message_to_change"
    RECORD_NOT_FOUND = "record_not_found"
    RECIPIENT_BACKLOG = "recipient_backlog_full"
    CHANNEL_FULL = "channel_full"
    # The relay itself.
    RATE_LIMITED = "rate_limited"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    STATE_UNAVAILABLE = "state_unavailable"
    STATE_STORE_PERSISTENT = "state_store_persistent"
    CONSENT_UNAVAILABLE = "consent_unavailable"
    INTERNAL_ERROR = "internal_error"
    SHUTTING_DOWN = "shutting_down"
    OVERLOADED = "overloaded"
    DESTINATION_BUSY = "destination_busy"
    NO_ROUTE = "no_route"
    UNKNOWN_ORIGIN = "unknown_origin"
    NOT_ROUTED_HERE = "conversation_not_routed_to_this_crm"
    LOOP = "loop"
    TOO_OLD = "too_old"
    ALREADY_DELIVERED = "already_delivered"
    EARLIER_IN_FLIGHT = "earlier_attempt_in_flight"

    @property
    def retry(self) -> RetryClass:
        """How this failure is retried."""
        return _CLASS.get(self, RetryClass.PERMANENT)

    @property
    def meaning(self) -> str:
        """One sentence an admin reads in docs and `relay check`."""
        return MEANING[self]

    @property
    def label(self) -> str:
        """The stable metric label value."""
        return self.value


_CLASS = {
    Reason.PLATFORM_UNREACHABLE: RetryClass.RETRY,
    Reason.PLATFORM_BUSY: RetryClass.RETRY,
    Reason.PLATFORM_MISCONFIGURED: RetryClass.RETRY,
    Reason.THROTTLED: RetryClass.RETRY_AFTER,
    Reason.TOKEN_UNAVAILABLE: RetryClass.RETRY_AFTER,
    Reason.PAIR_RATE_LIMITED: RetryClass.RETRY_AFTER,
    Reason.RATE_LIMITED: RetryClass.RETRY_AFTER,
    Reason.DEADLINE_EXCEEDED: RetryClass.RETRY,
    Reason.EARLIER_IN_FLIGHT: RetryClass.RETRY_AFTER,
    Reason.STATE_UNAVAILABLE: RetryClass.RETRY_AFTER,
    Reason.STATE_STORE_PERSISTENT: RetryClass.RETRY_AFTER,
    Reason.CONSENT_UNAVAILABLE: RetryClass.RETRY_AFTER,
    Reason.INTERNAL_ERROR: RetryClass.RETRY,
    Reason.SHUTTING_DOWN: RetryClass.RETRY_AFTER,
    Reason.OVERLOADED: RetryClass.RETRY_AFTER,
    Reason.DESTINATION_BUSY: RetryClass.RETRY_AFTER,
    Reason.RECIPIENT_BACKLOG: RetryClass.RETRY_AFTER,
    Reason.CHANNEL_FULL: RetryClass.RETRY_AFTER,
    Reason.RECIPIENT_UNREACHABLE: RetryClass.BLOCKED,
    Reason.OPTED_OUT: RetryClass.BLOCKED,
    Reason.PLATFORM_AUTH_FAILED: RetryClass.BLOCKED,
    Reason.HOST_NOT_ALLOWED: RetryClass.BLOCKED,
}

MEANING = {
    Reason.PLATFORM_UNREACHABLE: "The platform could not be connected to (refused, DNS, TLS); nothing was sent.",
    Reason.PLATFORM_TIMEOUT: "The platform did not answer in time; it may have taken the message, so no blind retry.",
    Reason.PLATFORM_CONNECTION_LOST: "The connection broke after the request was sent; it may have been taken.",
    Reason.PLATFORM_BUSY: "The platform answered 5xx or asked to come back later; nothing was taken.",
    Reason.PLATFORM_BAD_RESPONSE: "The platform answered success without the id the relay needs.",
    Reason.PLATFORM_REJECTED: "The platform refused the request for good (4xx); the detail names its code.",
    Reason.PLATFORM_AUTH_FAILED: "The platform refused the configured credentials; fix them and run `relay check`.",
    Reason.PLATFORM_MISCONFIGURED: "The endpoint answered 404 or a redirect: a wrong URL in the config; retried.",
    Reason.HOST_NOT_ALLOWED: "The URL host is neither a platform host nor allowlisted, or is a private address.",
    Reason.THROTTLED: "The platform rate-limited the relay (429 or its own code); retried after its wait.",
    Reason.TOKEN_UNAVAILABLE: "An access token could not be obtained right now; retried shortly.",
    Reason.RECIPIENT_UNREACHABLE: "The recipient blocked the bot, left, or cannot be written to.",
    Reason.INVALID_RECIPIENT: "The conversation's address is not one this platform can send to.",
    Reason.OPTED_OUT: "The customer opted out of messages on this channel.",
    Reason.TEMPLATE_REQUIRED: "Outside the platform's free-reply window only an approved template may be sent.",
    Reason.TEMPLATE_SENT: "Outside the window: a template asking the customer to write back was sent instead.",
    Reason.PAIR_RATE_LIMITED: "Too many messages to this one recipient; retried after a pause.",
    Reason.EMPTY_MESSAGE: "The message has nothing to send.",
    Reason.MESSAGE_TOO_LARGE: "The message is larger than the platform accepts even after splitting.",
    Reason.FILE_TOO_LARGE: "A file is larger than the platform or the relay's cap.",
    Reason.MEDIA_UNAVAILABLE: "A file could not be fetched from where it is held.",
    Reason.UNSUPPORTED: "The platform cannot show this kind of message.",
    Reason.UNKNOWN_MESSAGE: "An edit, delete or reaction names a message the relay has no id for.",
    Reason.RECORD_NOT_FOUND: "The CRM record this event names could not be found.",
    Reason.RECIPIENT_BACKLOG: "The recipient has too many replies it has not seen yet; retried after a pause.",
    Reason.CHANNEL_FULL: "The channel holds as many conversations as it may, all with unseen replies; retried.",
    Reason.RATE_LIMITED: "The relay's own rate limit for this destination would be exceeded before the deadline.",
    Reason.DEADLINE_EXCEEDED: "The destination did not accept within the source's deadline; the source redelivers.",
    Reason.STATE_UNAVAILABLE: "The state store (Redis) cannot be reached; nothing was delivered.",
    Reason.STATE_STORE_PERSISTENT: "The shared state store writes to disk; intake is held until it stops.",
    Reason.CONSENT_UNAVAILABLE: "The consent ledger cannot be read or written; nothing was sent, retried later.",
    Reason.INTERNAL_ERROR: "An unexpected error in the relay; the source redelivers.",
    Reason.SHUTTING_DOWN: "This replica is stopping; the source redelivers to another.",
    Reason.OVERLOADED: "This replica has too much in flight; the source redelivers.",
    Reason.DESTINATION_BUSY: "The destination has too much in flight from this replica; the source redelivers.",
    Reason.NO_ROUTE: "The messenger has no route to a CRM in the config.",
    Reason.UNKNOWN_ORIGIN: "The message came from an instance the config does not know.",
    Reason.NOT_ROUTED_HERE: "The CRM answered a conversation that is routed to another CRM.",
    Reason.LOOP: "The message would go back where it came from.",
    Reason.ALREADY_DELIVERED: "A redelivery of a message already delivered; acknowledged and dropped.",
    Reason.EARLIER_IN_FLIGHT: "A redelivery of a message still being delivered; the source tries again.",
    Reason.TOO_OLD: "The event is older than the platform's own retry horizon; acknowledged, not delivered.",
}
