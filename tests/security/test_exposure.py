"""Admin surfaces are exposed only when authenticated, judged by the address bound and by each request's
peer, local address and Host header (DNS rebinding)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from relay import config
from relay.app import create_app
from relay.errors import ConfigError
from relay.exposure import Exposure, is_loopback
from tests.conftest import RelayFactory, workspace

KEYLESS = workspace(
    {"webchat": {"type": "webchat"}, "inbox": {"type": "inbox"}},
    [{"from": ["webchat"], "to": "inbox"}],
)


def session_token(page: str) -> str:
    found = re.search(r'const SESSION = "([^"]*)";', page)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("10.254.0.1", False),
        ("relay.example.com", False),
        ("localhost.example.com", False),
    ],
)
def test_loopback_is_judged_by_address(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    assert Exposure(host).exposed is not loopback


def test_a_public_url_beyond_this_machine_is_exposed_too() -> None:
    assert Exposure("127.0.0.1", "https://relay.example.com").exposed
    assert not Exposure("127.0.0.1", "http://localhost:9000").exposed


@pytest.mark.parametrize("bind", ["0.0.0.0", "::", "10.254.0.1"])
async def test_keyless_inbox_refuses_to_serve_beyond_loopback(bind: str) -> None:
    loaded = config.parse(KEYLESS, "relay.toml")
    with pytest.raises(ConfigError) as err:
        await create_app(loaded, exposure=Exposure(bind, None, loaded.source))
    (problem,) = err.value.problems
    assert problem.startswith("relay.toml: connectors.inbox.access_key: ")
    assert bind in problem and 'access_key = "${INBOX_ACCESS_KEY}"' in problem and "--host 127.0.0.1" in problem


async def test_foreign_host_header_is_refused_by_a_loopback_inbox(start_relay: RelayFactory) -> None:
    client, _ = await start_relay(KEYLESS)
    port = client.port
    assert port is not None
    token = session_token(await (await client.get("/hooks/inbox/")).text())
    assert token
    session = {"X-Relay-Session": token}
    for host in ("evil.example:8080", f"evil.example:{port}", f"127.0.0.1:{port + 1}", "localhost", ""):
        page = await client.get("/hooks/inbox/", headers={"Host": host})
        assert page.status == 421, host
        assert token not in await page.text()
        assert "Host header" in (await page.json())["error"]
        api = await client.get("/hooks/inbox/api/conversations", headers={"Host": host, **session})
        assert api.status == 421, host
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"LOCALHOST:{port}"):
        assert (await client.get("/hooks/inbox/api/conversations", headers={"Host": host, **session})).status == 200


async def test_public_url_host_is_accepted_for_a_loopback_inbox(start_relay: RelayFactory) -> None:
    client, _ = await start_relay(KEYLESS | {"server": {"public_url": "http://localhost:9000"}})
    assert (await client.get("/hooks/inbox/", headers={"Host": "localhost:9000"})).status == 200
    assert (await client.get("/hooks/inbox/", headers={"Host": "localhost:9001"})).status == 421


class Transport:
    """A connection as seen from the server: the peer's address and the local address it reached."""

    def __init__(self, peer: tuple[str, int], local: tuple[str, int]) -> None:
        self.info = {"peername": peer, "sockname": local}

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.info.get(name, default)


async def _mounted(client: Any, path: str, peer: str, local: str) -> web.StreamResponse:
    """Call the mounted handler of GET `path` for a request over a given connection."""
    request = make_mocked_request(
        "GET",
        path,
        headers={"Host": f"127.0.0.1:{client.port}"},
        app=client.app,
        transport=Transport((peer, 50000), (local, client.port)),
    )
    match = await client.app.router.resolve(request)
    request._match_info = match
    response: web.StreamResponse = await match.handler(request)
    return response


async def test_keyless_inbox_never_hands_its_token_to_a_peer_beyond_loopback(start_relay: RelayFactory) -> None:
    client, relay = await start_relay(KEYLESS)
    token = relay.connectors["inbox"].inbox.session_token  # type: ignore[attr-defined]
    for peer, local in (("10.254.0.2", "10.254.0.1"), ("10.254.0.2", "127.0.0.1"), ("127.0.0.1", "10.254.0.1")):
        resp = await _mounted(client, "/hooks/inbox/", peer, local)
        assert resp.status == 403
        assert isinstance(resp, web.Response) and resp.text is not None and token not in resp.text
    assert (await _mounted(client, "/hooks/inbox/", "127.0.0.1", "127.0.0.1")).status == 200
