"""The network guard for URLs from platform or CRM data: private, loopback, link-local, reserved and metadata
addresses are refused after DNS resolution and on every redirect hop, unless network.allow_private lists them."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from relay import config
from relay.errors import ConfigError, MediaError
from relay.netguard import GuardedResolver, NetGuard, Refused, guarded_session, refused
from tests.conftest import RelayFactory, sandbox_workspace, webhook_workspace

REFUSED = [
    "127.0.0.1",
    "127.8.9.10",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "100.64.0.1",
    "100.100.100.200",
    "169.254.169.254",
    "169.254.170.2",
    "168.63.129.16",
    "0.0.0.0",
    "224.0.0.251",
    "255.255.255.255",
    "240.0.0.1",
    "198.18.0.1",
    "::",
    "::1",
    "fe80::1",
    "fe80::1%1",
    "fc00::1",
    "fd00:ec2::254",
    "ff02::1",
    "2001:db8::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.1.2.3",
    "::127.0.0.1",
    "64:ff9b::a00:1",
    "2002:7f00:1::1",
    "not-an-address",
]
PERMITTED = ["8.8.8.8", "1.1.1.1", "52.112.0.1", "2606:4700:4700::1111", "2620:1ec:8f8::1", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_private_loopback_link_local_reserved_and_metadata_are_refused(address: str) -> None:
    assert not NetGuard().permits(address)


@pytest.mark.parametrize("address", PERMITTED)
def test_public_unicast_is_permitted(address: str) -> None:
    assert NetGuard().permits(address)


def test_allow_private_permits_exactly_the_listed_networks() -> None:
    guard = NetGuard.of(["127.0.0.1/32", "10.20.0.0/16", "fd12:3456::/32"])
    assert guard.permits("127.0.0.1") and guard.permits("::ffff:127.0.0.1")
    assert guard.permits("10.20.255.1") and guard.permits("fd12:3456::9")
    assert not guard.permits("127.0.0.2") and not guard.permits("::1") and not guard.permits("10.21.0.1")
    assert not guard.permits("169.254.169.254") and not guard.permits("fd00:ec2::254")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            ["10.1.2.3/24"],
            "network.allow_private: [0] '10.1.2.3/24' has host bits set; write the network as 10.1.2.0/24",
        ),
        (["127.0.0.1/32", "intranet"], "network.allow_private: [1] 'intranet' is not an IP network"),
        (["0.0.0.0/0"], "network.allow_private: [0] '0.0.0.0/0' would allow every address"),
        (["::/0"], "would allow every address"),
    ],
)
def test_allow_private_is_validated(value: list[str], problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.parse(sandbox_workspace() | {"network": {"allow_private": value}}, "<test>")
    assert len(err.value.problems) == 1 and problem in err.value.problems[0], err.value.problems


def test_allow_private_accepts_networks_and_single_addresses() -> None:
    loaded = config.parse(sandbox_workspace() | {"network": {"allow_private": ["10.0.0.0/8", "::1"]}}, "<test>")
    assert loaded.relay.network.allow_private == ["10.0.0.0/8", "::1"]


class Listener:
    """A TCP listener that only counts the connections it receives."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self.server: asyncio.Server | None = None

    async def start(self, host: str) -> Listener:
        self.server = await asyncio.start_server(self._accept, host, 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    found = await Listener().start("127.0.0.1")
    yield found
    found.close()


@pytest.fixture
async def listener2() -> AsyncIterator[Listener]:
    """A listener on 127.0.0.2, a loopback address that `allow_private = ["127.0.0.1/32"]` does not cover."""
    found = await Listener().start("127.0.0.2")
    yield found
    found.close()


async def expect_refused(session: aiohttp.ClientSession, url: str) -> None:
    with pytest.raises(aiohttp.ClientConnectorError) as err:
        async with session.get(url):
            pass
    assert refused(err.value), err.value


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
async def test_guarded_session_never_connects_to_loopback(listener: Listener, host: str) -> None:
    async with guarded_session(NetGuard()) as session:
        await expect_refused(session, f"http://{host}:{listener.port}/x")
        await expect_refused(session, f"https://{host}:{listener.port}/x")
    assert listener.connections == 0


async def test_metadata_literal_is_refused_before_connecting() -> None:
    async with guarded_session(NetGuard()) as session:
        await expect_refused(session, "http://169.254.169.254/latest/meta-data/")
        await expect_refused(session, "http://[fd00:ec2::254]/latest/meta-data/")


class FixedResolver(AbstractResolver):
    """Answers every name with fixed addresses, as a hostile DNS zone would."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {
                "hostname": host,
                "host": a,
                "port": port,
                "family": socket.AF_INET6 if ":" in a else socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
            for a in self.addresses
        ]

    async def close(self) -> None:
        return None


async def test_a_name_resolving_to_private_addresses_is_refused(listener: Listener) -> None:
    resolver = FixedResolver("127.0.0.1", "169.254.169.254", "::1")
    async with guarded_session(NetGuard(), resolver=resolver) as session:
        await expect_refused(session, f"http://files.example.com:{listener.port}/x")
    assert listener.connections == 0


async def test_resolver_keeps_only_permitted_answers() -> None:
    guarded = GuardedResolver(NetGuard.of(["127.0.0.1/32"]), FixedResolver("10.0.0.1", "127.0.0.1", "::1"))
    assert [r["host"] for r in await guarded.resolve("x.example.com", 443)] == ["127.0.0.1"]
    with pytest.raises(Refused):
        await GuardedResolver(NetGuard(), FixedResolver("10.0.0.1")).resolve("x.example.com", 443)


async def test_allowed_network_is_reached(aiohttp_server: Any) -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/x", ok)
    server = await aiohttp_server(app)
    session = guarded_session(NetGuard.of(["127.0.0.1/32"]))
    async with session, session.get(f"http://127.0.0.1:{server.port}/x") as resp:
        assert resp.status == 200 and await resp.text() == "ok"


async def test_redirect_to_a_private_address_is_refused(aiohttp_server: Any, listener2: Listener) -> None:
    async def bounce(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.2:{listener2.port}/internal")

    app = web.Application()
    app.router.add_get("/file", bounce)
    server = await aiohttp_server(app)
    async with guarded_session(NetGuard.of(["127.0.0.1/32"])) as session:
        await expect_refused(session, f"http://127.0.0.1:{server.port}/file")
    assert listener2.connections == 0


async def test_crm_attachment_urls_are_guarded(start_relay: RelayFactory, crm_sink: Any, listener: Listener) -> None:
    _sink, url = crm_sink
    _, relay = await start_relay(webhook_workspace(url) | {"media": {"allowlist": ["127.0.0.1:*", "localhost:*"]}})
    for host in ("127.0.0.1", "localhost"):
        with pytest.raises(MediaError, match="refused"):
            await relay.media.fetch_url(f"http://{host}:{listener.port}/a.pdf", 1000, "application/pdf", "a.pdf")
    assert listener.connections == 0
