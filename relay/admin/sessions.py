"""Console sessions in the state store: opaque ids, idle and absolute timeouts, shared by every replica."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field, replace
from typing import Any

from relay.admin.principal import Principal, Role
from relay.state import StateStore

ANONYMOUS_TTL = 900.0
_PREFIX = "admin:session:"


@dataclass(frozen=True, slots=True)
class Session:
    """One browser's session: its CSRF token, who signed in (None before sign-in), and sign-in flow state."""

    csrf: str
    created: float
    seen: float
    principal: Principal | None = None
    flow: dict[str, str] = field(default_factory=dict)

    def dump(self) -> str:
        who = self.principal
        doc: dict[str, Any] = {"c": self.csrf, "t0": self.created, "t": self.seen, "f": self.flow}
        if who is not None:
            doc["p"] = [who.subject, who.name, int(who.role), who.method]
        return json.dumps(doc)

    @classmethod
    def load(cls, text: str) -> Session | None:
        try:
            doc = json.loads(text)
            found = doc.get("p")
            who = Principal(found[0], found[1], Role(found[2]), found[3]) if found else None
            return cls(doc["c"], float(doc["t0"]), float(doc["t"]), who, dict(doc.get("f") or {}))
        except (ValueError, KeyError, TypeError, IndexError):
            return None


def _key(sid: str) -> str:
    return _PREFIX + hashlib.sha256(sid.encode()).hexdigest()


class Sessions:
    """Create, find, touch and end console sessions; the store keeps digests of the ids, never the ids."""

    def __init__(self, store: StateStore, idle: float, absolute: float) -> None:
        self.store = store
        self.idle = idle
        self.absolute = absolute

    def _ttl(self, session: Session, now: float) -> float:
        if session.principal is None:
            return max(1.0, session.created + ANONYMOUS_TTL - now)
        return max(1.0, min(self.idle, session.created + self.absolute - now))

    async def _put(self, sid: str, session: Session, now: float) -> None:
        await self.store.set(_key(sid), session.dump(), self._ttl(session, now))

    async def start(
        self, principal: Principal | None = None, flow: dict[str, str] | None = None
    ) -> tuple[str, Session]:
        """A new session under a fresh id (ids are never reused: sign-in always starts a new one)."""
        now = time.time()
        sid = secrets.token_urlsafe(32)
        session = Session(secrets.token_urlsafe(32), now, now, principal, flow or {})
        await self._put(sid, session, now)
        return sid, session

    async def find(self, sid: str) -> Session | None:
        """The live session for this id, touched; None when unknown, idle too long or past its absolute limit."""
        text = await self.store.get(_key(sid))
        session = Session.load(text) if text is not None else None
        if session is None:
            return None
        now = time.time()
        limit = ANONYMOUS_TTL if session.principal is None else self.absolute
        if now - session.seen > self.idle or now - session.created > limit:
            await self.store.delete(_key(sid))
            return None
        session = replace(session, seen=now)
        await self._put(sid, session, now)
        return session

    async def update(self, sid: str, session: Session) -> None:
        """Store a changed session (its sign-in flow state) under the same id."""
        await self._put(sid, session, time.time())

    async def end(self, sid: str) -> None:
        await self.store.delete(_key(sid))
