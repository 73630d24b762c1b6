"""Console sessions live in the shared state store: a session started on one replica is valid on the
other, ends everywhere at sign-out, and the store holds a digest of the id, never the id."""

from __future__ import annotations

from relay.admin.principal import Principal, Role
from relay.admin.sessions import Sessions
from relay.state import StateStore


async def test_replicas_share_console_sessions(stores: tuple[StateStore, StateStore]) -> None:
    first, second = Sessions(stores[0], 1800, 43200), Sessions(stores[1], 1800, 43200)
    who = Principal("sub-1", "Ana", Role.ADMIN, "oidc")
    sid, started = await first.start(who)
    found = await second.find(sid)
    assert found is not None and found.principal == who and found.csrf == started.csrf
    assert await stores[1].get(sid) is None
    assert await second.find(sid + "x") is None
    await second.end(sid)
    assert await first.find(sid) is None
