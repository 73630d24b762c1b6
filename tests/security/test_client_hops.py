"""The platform client's redirect and address rules: where a token goes on a redirect, and what a URL that
resolves to a private address becomes (a refusal for good, never a retried 'unreachable')."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from relay.client import Call, HostPolicy, PlatformClient, Sessions
from relay.errors import DeliveryError, MediaError
from relay.netguard import NetGuard, guarded_session
from relay.reasons import Reason


@pytest.fixture
async def client() -> AsyncIterator[PlatformClient]:
    trusted = aiohttp.ClientSession()
    guarded = guarded_session(NetGuard())
    yield PlatformClient(Sessions(trusted, guarded, trusted, guarded), HostPolicy(["127.0.0.1", "localhost"]))
    await trusted.close()
    await guarded.close()


@pytest.fixture
async def hops(aiohttp_server: Any) -> tuple[str, list[tuple[str, str]]]:
    """A server that redirects /start to /same on its own host and /away to `localhost`; records auth per path."""
    seen: list[tuple[str, str]] = []

    async def record(request: web.Request) -> web.Response:
        seen.append((request.path, request.headers.get("Authorization", "")))
        if request.path == "/start":
            raise web.HTTPFound("/same")
        if request.path == "/away":
            raise web.HTTPFound(f"http://localhost:{request.url.port}/same")
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/{name}", record)
    server = await aiohttp_server(app)
    return f"http://127.0.0.1:{server.port}", seen


async def test_a_token_follows_a_same_host_redirect_unless_the_call_forbids_it(
    client: PlatformClient, hops: tuple[str, list[tuple[str, str]]]
) -> None:
    base, seen = hops
    auth = {"Authorization": "Bearer secret-token"}
    assert (await client.call(Call("GET", f"{base}/start", auth, redirects=2))).status == 200
    assert seen == [("/start", "Bearer secret-token"), ("/same", "Bearer secret-token")]
    seen.clear()
    assert (await client.call(Call("GET", f"{base}/start", auth, redirects=2, forward_auth=False))).status == 200
    assert seen == [("/start", "Bearer secret-token"), ("/same", "")]
    seen.clear()
    stream = await client.stream(Call("GET", f"{base}/start", auth, redirects=2, forward_auth=False), 100)
    assert b"".join([c async for c in stream.chunks]) == b"ok"
    assert seen == [("/start", "Bearer secret-token"), ("/same", "")]


async def test_a_token_never_follows_a_redirect_to_another_host(
    client: PlatformClient, hops: tuple[str, list[tuple[str, str]]]
) -> None:
    base, seen = hops
    answer = await client.call(Call("GET", f"{base}/away", {"Authorization": "Bearer secret-token"}, redirects=2))
    assert answer.status == 200
    assert seen == [("/away", "Bearer secret-token"), ("/same", "")]


async def test_a_private_address_is_refused_for_good(
    client: PlatformClient, hops: tuple[str, list[tuple[str, str]]]
) -> None:
    base, seen = hops
    with pytest.raises(DeliveryError) as err:
        await client.call(Call("POST", f"{base}/same", hosts=("127.0.0.1",)))
    assert (err.value.reason, err.value.detail, err.value.retryable) == (
        Reason.HOST_NOT_ALLOWED,
        "private_address",
        False,
    )
    with pytest.raises(MediaError, match="file host refused"):
        await client.stream(Call("GET", f"{base}/same", hosts=("127.0.0.1",)), 100)
    assert seen == []
