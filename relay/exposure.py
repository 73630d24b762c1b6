"""Who can reach the relay: judged by the address it binds, and per request by the peer, the local address
and the Host header. An unauthenticated admin surface is served over loopback only."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from relay.errors import AuthError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ALL_INTERFACES = ("", "0.0.0.0", "::", "*")


def is_loopback(host: str | None) -> bool:
    """True for a loopback address or `localhost`; 0.0.0.0, ::, any other name or address is exposed."""
    name = (host or "").strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def _host_port(value: str, default_port: int) -> tuple[str, int] | None:
    """(hostname, port) of a Host header or URL authority, or None when it does not parse."""
    try:
        parts = urlsplit("//" + value)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.password is not None:
        return None
    return parts.hostname, default_port if port is None else port


@dataclass(frozen=True, slots=True)
class Exposure:
    """The host the relay binds (from `relay run --host` or server.host), its public URL, and the config source."""

    bind_host: str
    public_url: str | None = None
    source: str = "<config>"

    @property
    def exposed(self) -> bool:
        """True when others than this machine can reach the relay: a non-loopback bind or public URL."""
        public = urlsplit(self.public_url).hostname if self.public_url else None
        return not is_loopback(self.bind_host) or (self.public_url is not None and not is_loopback(public))

    def why(self) -> str:
        """Why the relay is reachable beyond this machine, for error messages."""
        if self.bind_host.strip() in ALL_INTERFACES:
            return f"the relay listens on {self.bind_host or '*'} (every interface, --host / server.host)"
        if not is_loopback(self.bind_host):
            return f"the relay listens on {self.bind_host} (--host / server.host), which is not a loopback address"
        return "server.public_url names a host beyond this machine"

    def refusal(self, path: str, fix: str) -> str:
        """The start-up error for an admin surface that has no authentication while the relay is exposed."""
        return (
            f"{self.source}: {path}: an admin page without authentication is refused because {self.why()}; "
            f"anyone who reached it could read and answer every conversation. {fix}, "
            "or listen on loopback only (--host 127.0.0.1)"
        )

    def host_allowed(self, host: str, port: int) -> bool:
        """Whether a Host header names this relay: a loopback name or address on the bound port, or public_url."""
        found = _host_port(host, 80)
        if found is None:
            return False
        name, given = found
        if is_loopback(name) and given == port:
            return True
        if self.public_url:
            parts = urlsplit(self.public_url)
            public = _host_port(parts.netloc, 443 if parts.scheme == "https" else 80)
            return public is not None and public == found
        return False


def check_local(request: web.Request, exposure: Exposure) -> None:
    """Refuse a request to an unauthenticated admin surface unless it came over loopback naming this relay."""
    sock = request.transport.get_extra_info("sockname") if request.transport is not None else None
    local = sock[0] if isinstance(sock, tuple) and len(sock) >= 2 else None
    if not (is_loopback(request.remote) and is_loopback(local)):
        raise AuthError(
            "this page has no access key and answers on this machine (loopback) only; configure its access key "
            "to reach it from elsewhere",
            403,
        )
    assert isinstance(sock, tuple)
    if not exposure.host_allowed(request.headers.get("Host", ""), int(sock[1])):
        raise AuthError(
            "the Host header does not name this relay (use http://127.0.0.1 or http://localhost with its port)", 421
        )


def local_only(handler: Handler, exposure: Exposure) -> Handler:
    """The handler behind check_local: for routes a connector marks `local` (no authentication of their own)."""

    async def run(request: web.Request) -> web.StreamResponse:
        check_local(request, exposure)
        return await handler(request)

    return run
