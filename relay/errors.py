"""Exceptions of the core; messages never carry content, tokens or personal data."""

from __future__ import annotations


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
    """A destination did not accept a message.

    `retryable`: the destination clearly did not take it (429, retry-after, connection refused,
    an idempotent endpoint's 5xx); the core may try again. `scope` names the rate-limit bucket a
    `retry_after` applies to ("chat", "connector", or None). `reason` is a short content-free code.
    """

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        scope: str | None = "chat",
        unreachable: bool = False,
    ) -> None:
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        self.scope = scope
        self.unreachable = unreachable
        super().__init__(reason)


class MediaError(RelayError):
    """A file could not be fetched: too large, not allowed, or gone."""
