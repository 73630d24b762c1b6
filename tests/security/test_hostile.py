"""Hostile bodies on every inbound route, unauthenticated and authenticated: never a 5xx, a traceback,
or a forward without valid authentication; memory stays bounded."""

from __future__ import annotations

import asyncio
import gc
import random
import tracemalloc
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.common import MAX_BODY, STATS, Spy, record, replayed, signers
from tests.security.strategies import auth_modes, bodies, non_ascii_credentials, queries
from tests.security.test_routes import PUBLIC

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
GARBAGE = {
    "X-Relay-Signature": "t=1,v1=00",
    "X-BottleCRM-Signature": "t=9999999999,v1=zz",
    "X-Telegram-Bot-Api-Secret-Token": "nope",
    "X-Hub-Signature-256": "sha256=00",
    "X-Slack-Request-Timestamp": "abc",
    "X-Slack-Signature": "v0=00",
    "Authorization": "Bearer eyJhbGciOiJub25lIn0.e30.",
    "X-Webchat-Token": "0.0",
    "X-API-Key": "nope",
}


# The headers each connector type authenticates with.
CREDENTIALS = {
    "webhook": ("X-Relay-Signature",),
    "bottlecrm": ("X-BottleCRM-Signature",),
    "whatsapp": ("X-Hub-Signature-256",),
    "telegram": ("X-Telegram-Bot-Api-Secret-Token",),
    "slack": ("X-Slack-Request-Timestamp", "X-Slack-Signature"),
    "teams": ("Authorization",),
    "inbox": ("Authorization", "X-Relay-Session"),
    "webchat": ("X-Webchat-Token",),
}


def post_routes(client: Any) -> list[str]:
    paths = {r.resource.canonical for r in client.app.router.routes() if r.method == "POST" and r.resource}
    return sorted(p.replace("{ref}", "x") for p in paths if not p.endswith("/api/session"))


async def _auth(client: Any, instance: str, mode: str, raw: bytes) -> tuple[dict[str, str], bool]:
    """Headers for one request and whether they are valid authentication."""
    if mode == "garbage":
        return dict(GARBAGE), False
    if mode == "replayed" and instance in replayed():
        return replayed()[instance](raw), False
    if mode == "valid":
        if instance == "webchat":
            token = (await (await client.post("/hooks/webchat/api/session")).json())["token"]
            return {"X-Webchat-Token": token}, True
        if instance in signers():
            return signers()[instance](raw), True
    return {}, False


async def _one(client: Any, spy: Spy, path: str, mode: str, raw: bytes) -> tuple[int, bool]:
    instance = path.split("/")[2]
    headers, authed = await _auth(client, instance, mode, raw)
    before = len(spy.calls)
    resp = await client.post(path, data=raw, headers={"Content-Type": "application/json", **headers})
    body = await resp.read()
    forwards = len(spy.calls) - before
    record(resp.status, body, authed, forwards)
    assert resp.status < 500, (path, mode, resp.status, raw[:200])
    assert b"Traceback" not in body and b'File "' not in body, (path, body[:200])
    assert authed or forwards == 0, f"{path} forwarded without valid authentication ({mode})"
    if authed and len(raw) > MAX_BODY:
        assert 400 <= resp.status < 500, (path, resp.status)
    return resp.status, authed


@SETTINGS
@given(data=st.data(), body=bodies, mode=auth_modes)
async def test_hostile_bodies_on_every_post_route(
    hostile: tuple[Any, Any, Spy], data: Any, body: bytes, mode: str
) -> None:
    client, _relay, spy = hostile
    path = data.draw(st.sampled_from(post_routes(client)))
    await _one(client, spy, path, mode, body)


@SETTINGS
@given(data=st.data(), query=queries, garbage=st.booleans())
async def test_hostile_queries_on_every_get_route(
    hostile: tuple[Any, Any, Spy], data: Any, query: dict[str, str], garbage: bool
) -> None:
    client, _relay, spy = hostile
    paths = sorted({r.resource.canonical for r in client.app.router.routes() if r.method == "GET" and r.resource})
    path = data.draw(st.sampled_from(paths)).replace("{ref}", "x").replace("{token}", "x")
    if "/api/events" in path:
        query = query | {"wait": "0"}
    resp = await client.get(path, params=query, headers=GARBAGE if garbage else {})
    body = await resp.read()
    record(resp.status, body, False, len(spy.calls))
    assert resp.status < 500 and b"Traceback" not in body
    assert spy.calls == []


async def test_every_post_route_gets_each_auth_mode(hostile: tuple[Any, Any, Spy]) -> None:
    client, _relay, spy = hostile
    for path in post_routes(client):
        for mode in ("none", "garbage", "replayed", "valid"):
            for raw in (b"{", b'{"id": 5, "text": ["x"]}', b"[" * 5000 + b"]" * 5000, b"1" * (MAX_BODY + 1)):
                status, authed = await _one(client, spy, path, mode, raw)
                if not authed:
                    allowed = (401, 403, 413) if len(raw) > MAX_BODY else (401, 403)
                    assert status in allowed, (path, mode, status)


async def test_memory_stays_bounded(hostile: tuple[Any, Any, Spy]) -> None:
    client, _relay, spy = hostile
    paths = post_routes(client)
    rng = random.Random(7)
    samples = [b"{", b'{"text": "\\ud800"}', b"[" * 3000 + b"]" * 3000, b"x" * (MAX_BODY + 10), b'{"id": 1}']

    async def burst(n: int) -> None:
        for _ in range(n):
            path = rng.choice(paths)
            await _one(client, spy, path, rng.choice(["none", "garbage", "valid"]), rng.choice(samples))

    await burst(100)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        await burst(300)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    bound = 4 << 20
    STATS["max_memory_kib"] = max(STATS["max_memory_kib"], grown // 1024)
    STATS["memory_bound_kib"] = bound // 1024
    assert grown < bound, f"memory grew by {grown} bytes over 300 hostile requests"


async def test_the_spy_sees_what_valid_authentication_lets_through(hostile: tuple[Any, Any, Spy]) -> None:
    client, _relay, spy = hostile
    await _one(client, spy, "/hooks/webchat/api/messages", "valid", b'{"id": "m1", "text": "hi"}')
    update = (
        b'{"update_id": 7, "message": {"message_id": 1, "date": 1, "chat": {"id": 5, "type": "private"}, "text": "hi"}}'
    )
    await _one(client, spy, "/hooks/telegram/", "valid", update)
    assert spy.calls == ["webchat", "telegram"]


def authenticated_routes(client: Any) -> list[tuple[str, str]]:
    """(method, concrete path) of every route outside the public allowlist."""
    out = set()
    for r in client.app.router.routes():
        if r.resource is not None and r.method in ("GET", "POST") and (r.method, r.resource.canonical) not in PUBLIC:
            path = r.resource.canonical.replace("{ref}", "x").replace("{token}", "x")
            out.add((r.method, path + ("?wait=0" if "/api/events" in path else "")))
    return sorted(out)


def _credential_headers(instance: str, raw: bytes) -> dict[str, str]:
    """Valid authentication where the tests can make it, else every header the instance reads, filled in."""
    valid = signers().get(instance)
    return valid(raw) if valid else dict.fromkeys(CREDENTIALS.get(instance, ("Authorization",)), "x")


@SETTINGS
@given(data=st.data(), value=non_ascii_credentials)
async def test_non_ascii_credentials_on_every_authenticated_route(
    hostile: tuple[Any, Any, Spy], data: Any, value: str
) -> None:
    client, _relay, spy = hostile
    method, path = data.draw(st.sampled_from(authenticated_routes(client)))
    instance = path.split("/")[2] if path.startswith("/hooks/") else ""
    raw = b'{"update_id": 1, "id": "m1", "text": "x"}'
    headers = _credential_headers(instance, raw)
    bad = data.draw(st.sampled_from(sorted({*headers, *CREDENTIALS.get(instance, ("Authorization",))})))
    headers[bad] = value
    before = len(spy.calls)
    resp = await client.request(method, path, data=raw if method == "POST" else None, headers=headers)
    body = await resp.read()
    record(resp.status, body, False, len(spy.calls) - before)
    assert resp.status == 401, (method, path, bad, resp.status, body[:200])
    assert len(spy.calls) == before and b"Traceback" not in body


async def _raw_request(client: Any, method: str, path: str, header: bytes, raw: bytes) -> bytes:
    """Send one request whose credential header holds bytes no client library would send; return the reply."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        head = f"{method} {path} HTTP/1.1\r\nHost: relay\r\nConnection: close\r\nContent-Type: application/json\r\n"
        writer.write(head.encode() + header + f"\r\nContent-Length: {len(raw)}\r\n\r\n".encode() + raw)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


async def test_undecodable_credential_bytes_on_every_authenticated_route(hostile: tuple[Any, Any, Spy]) -> None:
    client, _relay, spy = hostile
    raw = b'{"update_id": 1, "id": "m1", "text": "x"}'
    for method, path in authenticated_routes(client):
        instance = path.split("/")[2] if path.startswith("/hooks/") else ""
        for name in CREDENTIALS.get(instance, ("Authorization",)):
            for value in (b"\xff\xfe", b"t=1,v1=\xc3", b"Bearer \xed\xa0\x80", b"\xe2\x80\xae0123"):
                reply = await _raw_request(client, method, path, name.encode() + b": " + value, raw)
                status = int(reply.split(b" ", 2)[1])
                assert status == 401, (method, path, name, value, reply[:300])
                assert b"Traceback" not in reply
    assert spy.calls == []
