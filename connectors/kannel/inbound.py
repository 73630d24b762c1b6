"""Kannel's callbacks (sms-service get-url and dlr-url): unsigned, so a secret in the URL path and an address
allowlist authenticate them; then the customer's text or the delivery report is read from the query."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from connectors.kannel import convert
from relay.connector import HookRequest, Inbound
from relay.credential import same
from relay.errors import AuthError, BadRequest
from relay.model import Message

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(remote: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        found = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def authenticate(secret: bytes, networks: Sequence[Network], request: HookRequest) -> None:
    """The callback came from an allowed address and names the callback secret; AuthError otherwise."""
    given = request.match.get("token", "")
    if not given:
        raise AuthError("missing callback secret in the URL path", 401)
    address = _address(request.remote)
    if address is None or not any(address in network for network in networks):
        raise AuthError("caller address is not in allow_from", 403)
    if not same(given, secret):
        raise AuthError("callback secret does not match", 403)


def parse_message(instance: str, request: HookRequest) -> Inbound:
    """A customer's SMS; 400 naming what is missing (the get-url must pass from=%p and id=%I)."""
    query = request.query
    if not query.get("id") or not convert.number(query.get("from", "")):
        raise BadRequest("an sms-service callback needs id=%I and from=%p")
    return Inbound.of(convert.inbound(instance, query))


def parse_report(instance: str, request: HookRequest) -> tuple[Message, int] | None:
    """A delivery report for a message the relay sent, or None for one the CRM is not told about."""
    query = request.query
    if not query.get("id") or not query.get("status", "").isdigit():
        raise BadRequest("a delivery report needs id and status=%d")
    return convert.receipt(instance, query)
