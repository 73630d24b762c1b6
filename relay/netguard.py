"""Outbound fetches of URLs that come from platform or CRM data reach only public addresses (no SSRF).

The check runs on the address a socket is about to connect to: the resolver drops private answers, and the
socket factory refuses anything else not permitted (IP literals, every redirect hop, every new connection).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

REASON = "the address is private, loopback, link-local, reserved or a cloud metadata service"

BLOCKED: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # this network, unspecified
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT (also Alibaba's metadata 100.100.100.200)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, with the metadata service 169.254.169.254 of most clouds
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
        "168.63.129.16/32",  # Azure's host endpoint (WireServer), reachable from every Azure VM
        "::/128",
        "::1/128",
        "::/96",  # IPv4-compatible (deprecated)
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo, benchmarking, ORCHID)
        "2001:db8::/32",
        "3fff::/20",
        "5f00::/16",
        "fc00::/7",  # unique local, with AWS's metadata fd00:ec2::254
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
_MAPPED_V4 = ipaddress.ip_network("::ffff:0:0/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


class Refused(OSError):
    """A connection to a forbidden address was not attempted."""

    def __init__(self) -> None:
        super().__init__(f"connection refused by the relay: {REASON}")


def parse_network(text: str) -> IPNetwork:
    """A CIDR network (a bare address is one host); ValueError with the fix if it is not one."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            raise ValueError(f"'{text}' is not an IP network; write CIDR like 10.20.0.0/16 or 127.0.0.1/32") from None
        raise ValueError(f"'{text}' has host bits set; write the network as {loose}") from None
    if net.prefixlen == 0:
        raise ValueError(f"'{text}' would allow every address; list only the private networks the relay must reach")
    return net


def _embedded_v4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if addr in _MAPPED_V4 or addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((int(addr) >> 80) & 0xFFFFFFFF)
    return None


class NetGuard:
    """Which addresses untrusted URLs may reach: public unicast ones, plus the networks the admin allows."""

    def __init__(self, allow: Iterable[IPNetwork] = ()) -> None:
        self.allow = tuple(allow)

    @classmethod
    def of(cls, networks: Iterable[str]) -> NetGuard:
        return cls(parse_network(n) for n in networks)

    def _allowed(self, addr: IPAddress) -> bool:
        return any(addr.version == net.version and addr in net for net in self.allow)

    def permits(self, address: str | IPAddress) -> bool:
        """True if a connection to this IP address may be made; anything that is not an IP address is False."""
        try:
            addr = ipaddress.ip_address(address) if isinstance(address, str) else address
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.scope_id:
            addr = ipaddress.IPv6Address(str(addr).split("%", 1)[0])
        inner = _embedded_v4(addr) if isinstance(addr, ipaddress.IPv6Address) else None
        if self._allowed(addr) or (inner is not None and self._allowed(inner)):
            return True
        for candidate in (addr, inner):
            if candidate is None:
                continue
            if any(candidate.version == net.version and candidate in net for net in BLOCKED):
                return False
            if not candidate.is_global and not (candidate is addr and inner is not None):
                return False
        return True

    def open_socket(self, addr_info: tuple[Any, ...]) -> socket.socket:
        """The socket for one connection attempt, after checking the exact address it will connect to."""
        family, kind, proto, _, sockaddr = addr_info
        if not self.permits(str(sockaddr[0])):
            raise Refused()
        return socket.socket(family=family, type=kind, proto=proto)


class GuardedResolver(AbstractResolver):
    """The default resolver, keeping only the addresses the guard permits; none left is a Refused error."""

    def __init__(self, guard: NetGuard, inner: AbstractResolver | None = None) -> None:
        self.guard = guard
        self.inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self.inner.resolve(host, port, family)
        kept = [r for r in found if self.guard.permits(r["host"])]
        if not kept:
            raise Refused()
        return kept

    async def close(self) -> None:
        await self.inner.close()


def guarded_connector(guard: NetGuard, resolver: AbstractResolver | None = None, **kwargs: Any) -> aiohttp.TCPConnector:
    """A TCPConnector that resolves and connects only to addresses the guard permits."""
    return aiohttp.TCPConnector(resolver=GuardedResolver(guard, resolver), socket_factory=guard.open_socket, **kwargs)


def guarded_session(
    guard: NetGuard, *, resolver: AbstractResolver | None = None, limit: int = 100, **kwargs: Any
) -> aiohttp.ClientSession:
    """The client session for URLs taken from platform or CRM data (never the environment's proxy settings)."""
    connector = guarded_connector(guard, resolver, limit=limit)
    return aiohttp.ClientSession(connector=connector, trust_env=False, **kwargs)


def refused(exc: BaseException) -> bool:
    """True if a client error means the guard refused the address."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, Refused) or (
            isinstance(seen, aiohttp.ClientConnectorError) and isinstance(seen.os_error, Refused)
        ):
            return True
        seen = seen.__cause__
    return False
