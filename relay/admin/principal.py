"""Who is signed in to the console, with which role, and how every console action checks it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal, Protocol

from aiohttp import web


class Role(IntEnum):
    """What a console user may do; each role includes the ones below it."""

    VIEWER = 1
    ADMIN = 2
    OWNER = 3


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in console user: an opaque subject, a display name, a role and how they signed in."""

    subject: str
    name: str
    role: Role
    method: Literal["oidc", "saml", "local"]


PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("relay.admin.principal", Principal)
CSRF: web.RequestKey[str] = web.RequestKey("relay.admin.csrf", str)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def signed_in(request: web.Request) -> Principal | None:
    """The principal the session middleware put on this request, if any."""
    found = request.get(PRINCIPAL)
    return found if isinstance(found, Principal) else None


def require(request: web.Request, role: Role) -> Principal:
    """The signed-in principal if their role reaches `role`; else 401 (no session) or 403 (role too low)."""
    who = signed_in(request)
    if who is None:
        raise web.HTTPUnauthorized(text="sign in at /admin/login", headers={"Cache-Control": "no-store"})
    if who.role < role:
        raise web.HTTPForbidden(text=f"this action needs the {role.name.lower()} role")
    return who


def csrf_token(request: web.Request) -> str:
    """The CSRF token of this session, to put in every form as `csrf_token` (or send as X-CSRF-Token)."""
    token = request.get(CSRF)
    if not isinstance(token, str):
        raise web.HTTPUnauthorized(text="sign in at /admin/login")
    return token


class Audit(Protocol):
    """The durable, append-only admin audit log: who did what to which keys, never a value."""

    async def record(
        self,
        action: str,
        who: Principal | None,
        address: str | None,
        keys: Sequence[str] = (),
        outcome: str = "ok",
    ) -> None: ...

    async def entries(self, text: str = "", limit: int | None = 500) -> list[dict[str, Any]]: ...


AUDIT: web.AppKey[Audit] = web.AppKey("relay.admin.audit")
