"""Every route the app mounts refuses an unauthenticated request, except a listed allowlist."""

from __future__ import annotations

import re
from typing import Any

from relay import notfound
from relay.connector import Route
from tests.security.common import STATS, Spy, record

# Public by design: the index and health/metrics endpoints, the sandbox pages, the webchat session endpoint
# (it hands a new visitor a token). WhatsApp's GET handshake is not here: it answers 403 without the verify token.
PUBLIC = {
    ("GET", "/"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/hooks/webchat/"),
    ("POST", "/hooks/webchat/api/session"),
    ("GET", "/hooks/inbox/"),
}


# The last route under /hooks/ answers every unknown path 404 (JSON naming the CRM paths for a POST).
CATCH_ALL = ("*", notfound.PATH.replace(":.*", ""))


def mounted(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route; HEAD mirrors GET and is checked with it."""
    out = set()
    for route in app.router.routes():
        if route.method != "HEAD" and route.resource is not None:
            out.add((route.method, route.resource.canonical))
    return out


async def test_the_catch_all_route_only_answers_404(hostile: tuple[Any, Any, Spy]) -> None:
    client, _, spy = hostile
    assert CATCH_ALL in mounted(client.app)
    for method in ("POST", "GET", "PUT", "DELETE"):
        resp = await client.request(method, "/hooks/no-such-connector/x", data=b"{}" if method != "GET" else None)
        assert resp.status == 404, method
    assert spy.calls == []


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


async def test_only_the_allowlist_answers_without_authentication(hostile: tuple[Any, Any, Spy]) -> None:
    client, relay, spy = hostile
    routes = mounted(client.app) - {CATCH_ALL}
    assert routes >= PUBLIC, f"allowlisted but not mounted: {PUBLIC - routes}"
    marked = {
        (r.method, f"/hooks/{name}{r.path}")
        for name, conn in relay.connectors.items()
        for r in conn.routes()
        if isinstance(r, Route) and r.public
    }
    assert marked <= PUBLIC, f"routes marked public but not in the allowlist: {marked - PUBLIC}"
    answered: dict[tuple[str, str], int] = {}
    for method, path in sorted(routes):
        for body in (b"{}", b'{"update_id": 1, "type": "message", "text": "x"}'):
            before = len(spy.calls)
            resp = await client.request(method, concrete(path), data=body if method != "GET" else None)
            raw = await resp.read()
            record(resp.status, raw, False, len(spy.calls) - before)
            answered[(method, path)] = resp.status
            assert len(spy.calls) == before, f"{method} {path} forwarded a message without authentication"
            assert resp.status < 500, f"{method} {path}: {resp.status}"
    open_routes = {k for k, status in answered.items() if 200 <= status < 300}
    STATS["routes"] = len(routes)
    STATS["open_routes"] = len(open_routes - PUBLIC)
    assert open_routes <= PUBLIC, f"unauthenticated 2xx outside the allowlist: {sorted(open_routes - PUBLIC)}"
    refused = {k: s for k, s in answered.items() if k not in PUBLIC}
    wrong = {k: s for k, s in refused.items() if s not in (401, 403)}
    assert not wrong, f"routes that do not refuse with 401/403 before anything else: {wrong}"
    assert spy.calls == []


async def test_every_registered_type_is_mounted(hostile: tuple[Any, Any, Spy]) -> None:
    from relay import registry

    client, relay, _ = hostile
    assert set(relay.connectors) == set(registry.available())
    hooks = {path.split("/")[2] for _, path in mounted(client.app) if path.startswith("/hooks/")}
    assert {"webhook", "webchat", "inbox"} <= hooks
