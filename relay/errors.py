"""Exceptions of the core; messages never carry content, tokens or personal data."""

from __future__ import annotations

from relay.reasons import Reason, RetryClass


class RelayError(Exception):
    """Root of every error the relay raises on purpose."""


class ConfigError(RelayError):
    """The workspace configuration is invalid; `problems` lists each one with its path and the fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class AuthError(RelayError):
    """An inbound request failed authentication; `status` is 401, 403, or 421 (Host names another site)."""

    def __init__(self, reason: str, status: int = 401) -> None:
        self.reason = reason
        self.status = status
        super().__init__(reason)


class BadRequest(RelayError):
    """An authenticated request is malformed; answered with 4xx and the reason."""

    def __init__(self, reason: str, status: int = 400) -> None:
        self.reason = reason
        self.status = status
        super().__init__(reason)


class DeliveryError(RelayError):
    """A destination did not accept a message, for a `Reason` of the core.

    `retryable` follows the reason's retry class unless the call knows better (an idempotent
    endpoint's timeout). `scope` names the rate-limit bucket a `retry_after` applies to ("chat",
    "connector", or None). `detail` is a short content-free platform code for logs and the admin
    (an HTTP status, a platform error code); it never becomes a metric label.
    """

    def __init__(
        self,
        reason: Reason,
        *,
        retry_after: float | None = None,
        scope: str | None = "chat",
        detail: str | int | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.reason = reason
        self.retryable = reason.retry in _RETRIED if retryable is None else retryable
        self.retry_after = retry_after
        self.scope = scope
        self.detail = None if detail is None else str(detail)
        super().__init__(reason.value if detail is None else f"{reason.value} ({detail})")

    @property
    def unreachable(self) -> bool:
        """The recipient cannot be written to (blocked, left, gone)."""
        return self.reason is Reason.RECIPIENT_UNREACHABLE


_RETRIED = frozenset({RetryClass.RETRY, RetryClass.RETRY_AFTER})


class MediaError(RelayError):
    """A file could not be fetched: too large, not allowed, or gone. `status` is the file host's HTTP
    status when its answer was the reason (a short-lived URL that expired answers 401/403/404/410);
    `failure` the Reason a delivery that needed the file fails with."""

    def __init__(self, reason: str, status: int | None = None, failure: Reason = Reason.MEDIA_UNAVAILABLE) -> None:
        self.status = status
        self.failure = failure
        super().__init__(reason)
