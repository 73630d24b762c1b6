"""The sign-in page, the break-glass owner's sign-in, sign-out, and the session rotation every method ends in."""

from __future__ import annotations

from html import escape

from aiohttp import web

from relay.admin.access import CONSOLE, SESSION, SID, Console, form, public, set_cookie
from relay.admin.layout import csrf_input, render
from relay.admin.local import LocalOwner
from relay.admin.principal import AUDIT, CSRF, Principal, signed_in
from relay.admin.sessions import Session

ATTEMPT_INTERVAL = 6.0
ATTEMPT_BURST = 10


def see_other(path: str) -> web.Response:
    """A 303 redirect to a console path."""
    return web.Response(status=303, headers={"Location": path})


async def anonymous(request: web.Request) -> tuple[str, Session, bool]:
    """This browser's session, or a new signed-out one (True when its cookie still has to be set)."""
    sid, session = request.get(SID), request.get(SESSION)
    if isinstance(sid, str) and isinstance(session, Session):
        return sid, session, False
    sid, session = await request.app[CONSOLE].sessions.start()
    request[SID], request[SESSION], request[CSRF] = sid, session, session.csrf
    return sid, session, True


async def too_many(request: web.Request, method: str) -> bool:
    """True when this address has tried to sign in too often lately (then the attempt is refused)."""
    console = request.app[CONSOLE]
    wait = await console.store.reserve(f"admin:signin:{request.remote}", ATTEMPT_INTERVAL, ATTEMPT_BURST)
    if wait > 0:
        await request.app[AUDIT].record(f"signin.{method}", None, request.remote, outcome="throttled")
    return wait > 0


async def establish(request: web.Request, who: Principal) -> web.Response:
    """End the signed-out session, start a signed-in one under a new id, audit it, go to the console."""
    console = request.app[CONSOLE]
    old = request.get(SID)
    if isinstance(old, str):
        await console.sessions.end(old)
    sid, _ = await console.sessions.start(who)
    await request.app[AUDIT].record(f"signin.{who.method}", who, request.remote)
    response = see_other("/admin/")
    set_cookie(response, console, sid)
    return response


async def refuse(request: web.Request, method: str, why: str, message: str, status: int = 401) -> web.Response:
    """Audit a failed sign-in (the reason code only) and show the sign-in page again with `message`."""
    await request.app[AUDIT].record(f"signin.{method}", None, request.remote, outcome=why)
    return await _page(request, message, status)


def _methods(console: Console, request: web.Request) -> str:
    cfg = console.settings
    parts = []
    if cfg.oidc is not None:
        parts.append(f'<p><a class="button" href="/admin/oidc/start">Sign in with {escape(cfg.oidc.label)}</a></p>')
    if cfg.saml is not None:
        parts.append(f'<p><a class="button" href="/admin/saml/start">Sign in with {escape(cfg.saml.label)}</a></p>')
    if cfg.local_owner is not None:
        parts.append(
            '<form method="post" action="/admin/login/local"><fieldset><legend>Break-glass owner account</legend>'
            f"{csrf_input(request)}"
            '<label for="password">Password</label>'
            '<input type="password" id="password" name="password" autocomplete="current-password" required>'
            '<label for="code">Code from the authenticator app</label>'
            '<input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" '
            'pattern="[0-9 ]{6,7}" required>'
            '<p><button type="submit">Sign in</button></p></fieldset></form>'
        )
    return "".join(parts)


async def _page(request: web.Request, message: str = "", status: int = 200) -> web.Response:
    sid, _, fresh = await anonymous(request)
    console = request.app[CONSOLE]
    note = f'<p class="error" role="alert">{escape(message)}</p>' if message else ""
    response = render(request, "Sign in", note + _methods(console, request), status)
    if fresh:
        set_cookie(response, console, sid)
    return response


@public
async def login_page(request: web.Request) -> web.Response:
    if signed_in(request) is not None:
        raise web.HTTPSeeOther("/admin/")
    return await _page(request)


@public
async def login_local(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    if console.settings.local_owner is None:
        raise web.HTTPNotFound(text="no break-glass owner is configured (admin.local_owner)")
    if await too_many(request, "local"):
        return await _page(request, "Too many attempts: wait a minute and try again.", 429)
    posted = await form(request)
    password, code = posted.get("password"), posted.get("code")
    if not isinstance(password, str) or not isinstance(code, str):
        return await refuse(request, "local", "incomplete", "Enter the password and the code.", 400)
    who = await LocalOwner(console.settings.local_owner, console.store).sign_in(password, code)
    if who is None:
        return await refuse(request, "local", "rejected", "Wrong password or code (each code works once).")
    return await establish(request, who)


@public
async def logout(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    sid = request.get(SID)
    if isinstance(sid, str):
        await console.sessions.end(sid)
    await request.app[AUDIT].record("signout", signed_in(request), request.remote)
    response = see_other("/admin/login")
    response.del_cookie(console.cookie, path="/" if console.secure else "/admin")
    return response
