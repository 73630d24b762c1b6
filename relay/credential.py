"""Credentials from requests, compared as bytes in constant time; a malformed one is a 401, never a crash."""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping

from relay.errors import AuthError
from relay.secret import Secret

# Names of headers that can carry a credential: Authorization and every *-Signature, *-Token, *-Secret,
# *-Session or *-Key header a connector reads. Their values are printable ASCII on every platform.
_CREDENTIAL_HEADER = re.compile(r"authorization|signature|token|secret|session|key", re.IGNORECASE)


def printable_ascii(value: str) -> bool:
    return value.isascii() and value.isprintable()


def header_credential(value: str, what: str) -> bytes:
    """A credential from a header as bytes; AuthError(401) when it is anything but printable ASCII."""
    if not printable_ascii(value):
        raise AuthError(f"malformed {what}", 401)
    return value.encode("ascii")


def malformed_header(headers: Mapping[str, str]) -> str | None:
    """The name of a credential-carrying header whose value is not printable ASCII, or None."""
    for name, value in headers.items():
        if not (value.isascii() and value.isprintable()) and _CREDENTIAL_HEADER.search(name):
            return name
    return None


def as_bytes(value: str) -> bytes:
    """Any text (including lone surrogates from undecodable input) as bytes, without raising."""
    return value.encode("utf-8", "surrogatepass")


def same(given: str | bytes, expected: str | bytes) -> bool:
    """Constant-time equality of two credentials, whatever characters they hold."""
    a = given if isinstance(given, bytes) else as_bytes(given)
    b = expected if isinstance(expected, bytes) else as_bytes(expected)
    return hmac.compare_digest(a, b)


def bearer_matches(token: Secret, header: str | None) -> bool:
    """Whether an `Authorization: Bearer <token>` header carries `token` (constant time)."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and same(given.strip(), token.reveal())
