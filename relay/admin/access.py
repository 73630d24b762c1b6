"""Who may reach each console route: the session middleware, CSRF on every change, roles, strict headers."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from multidict import MultiDictProxy

from relay.admin.allowlist import Allowlist
from relay.admin.principal import CSRF, CSRF_FIELD, CSRF_HEADER, PRINCIPAL, Audit, Role, require
from relay.admin.sessions import Session, Sessions
from relay.admin.settings import AdminSettings
from relay.state import StateStore

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ROLE_ATTR = "__admin_role__"
EXEMPT_ATTR = "__csrf_exempt__"
PUBLIC = "public"
SID: web.RequestKey[str] = web.RequestKey("relay.admin.sid", str)
SESSION: web.RequestKey[Session] = web.RequestKey("relay.admin.session", Session)
POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


@dataclass(slots=True)
class Console:
    """What the console's pages share: settings, sessions, audit log, allowlist and the relay's status."""

    settings: AdminSettings
    store: StateStore
    sessions: Sessions
    audit: Audit
    allowlist: Allowlist
    public_url: str
    status: Callable[[], Awaitable[dict[str, Any]]]
    http: aiohttp.ClientSession

    @property
    def secure(self) -> bool:
        """Cookies are Secure (and __Host- prefixed) when the relay's public URL is https."""
        return self.public_url.startswith("https://")

    @property
    def cookie(self) -> str:
        return "__Host-relay_admin" if self.secure else "relay_admin"


CONSOLE: web.AppKey[Console] = web.AppKey("relay.admin.console")


def needs(role: Role) -> Callable[[Handler], Handler]:
    """Mark and enforce the lowest role a console route needs (the route-walking test reads the mark)."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def run(request: web.Request) -> web.StreamResponse:
            require(request, role)
            return await handler(request)

        setattr(run, ROLE_ATTR, role)
        return run

    return wrap


def public(handler: Handler) -> Handler:
    """Mark a console route every visitor may reach (sign-in steps, the stylesheet)."""
    setattr(handler, ROLE_ATTR, PUBLIC)
    return handler


def set_cookie(response: web.StreamResponse, console: Console, sid: str) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Secure over https, the console's path only."""
    response.set_cookie(
        console.cookie,
        sid,
        path="/" if console.secure else "/admin",
        httponly=True,
        secure=console.secure,
        samesite="Lax",
    )


async def form(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The posted form, or 400 when it does not decode."""
    try:
        return await request.post()
    except (UnicodeDecodeError, ValueError, AssertionError):
        raise web.HTTPBadRequest(text="malformed form") from None


async def _csrf_ok(request: web.Request, session: Session | None) -> bool:
    if session is None:
        return False
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        found = (await form(request)).get(CSRF_FIELD)
        given = found if isinstance(found, str) else None
    return given is not None and hmac.compare_digest(given.encode(), session.csrf.encode())


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Put the session's principal and CSRF token on the request; refuse any change without the token."""
    console = request.app[CONSOLE]
    sid = request.cookies.get(console.cookie)
    session = await console.sessions.find(sid) if sid else None
    if sid is not None and session is not None:
        request[SID], request[SESSION], request[CSRF] = sid, session, session.csrf
        if session.principal is not None:
            request[PRINCIPAL] = session.principal
    route = request.match_info.handler
    exempt = getattr(route, EXEMPT_ATTR, False)
    if request.method not in ("GET", "HEAD") and not exempt and not await _csrf_ok(request, session):
        raise web.HTTPForbidden(text="missing or wrong CSRF token: reload the page and try again")
    try:
        return await handler(request)
    except web.HTTPUnauthorized:
        if request.method == "GET":
            raise web.HTTPSeeOther("/admin/login") from None
        raise


async def secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every console answer: a CSP with no inline script, no framing, no sniffing, never cached."""
    headers = response.headers
    headers["Content-Security-Policy"] = POLICY
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cache-Control"] = "no-store"


def csrf_exempt(handler: Handler) -> Handler:
    """For the SAML assertion endpoint only: the IdP posts it cross-site, its signature is the check."""
    setattr(handler, EXEMPT_ATTR, True)
    return handler
