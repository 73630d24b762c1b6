"""The admin console as an aiohttp sub-application for /admin, with room for more pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from relay.admin import pages, signin
from relay.admin.access import CONSOLE, Console, public, secure_headers, session_middleware
from relay.admin.allowlist import Allowlist, data_dir
from relay.admin.audit import FileAudit, writable_problem
from relay.admin.layout import NAV, NavItem, stylesheet
from relay.admin.principal import AUDIT, Audit, Role
from relay.admin.sessions import Sessions
from relay.admin.settings import AdminSettings
from relay.config import Loaded
from relay.exposure import Exposure
from relay.state import StateStore

if TYPE_CHECKING:
    from relay.admin.audit_pg import PostgresAudit

AUDIT_FILE = "admin-audit.jsonl"


@dataclass(frozen=True, slots=True)
class Extension:
    """More console pages: their routes (each marked with access.needs or access.public) and nav links."""

    routes: Sequence[web.RouteDef] = ()
    nav: Sequence[NavItem] = ()
    setup: Callable[[web.Application], None] | None = field(default=None)


def audit_path(settings: AdminSettings, base: Path | None) -> Path:
    """Where the audit log lives: admin.audit_log (relative to the config file), else the data directory
    ($RELAY_DATA_DIR, else relay-data/ next to the config file), else the working directory."""
    if settings.audit_log is not None:
        return settings.audit_log if base is None or settings.audit_log.is_absolute() else base / settings.audit_log
    return (data_dir(base) or Path.cwd()) / AUDIT_FILE


def build_admin(
    settings: AdminSettings,
    store: StateStore,
    allowlist: Allowlist,
    public_url: str,
    status: Callable[[], Awaitable[dict[str, Any]]],
    http: aiohttp.ClientSession,
    base: Path | None = None,
    extensions: Sequence[Extension] = (),
    audit: Audit | None = None,
) -> web.Application:
    """The console app; mount it with `app.add_subapp("/admin", ...)`. Only call it when a sign-in method is set.
    The audit log is the file at `audit_path` unless one is given."""
    app = web.Application(middlewares=[session_middleware])
    audit = audit or FileAudit(audit_path(settings, base))
    sessions = Sessions(store, settings.session_idle, settings.session_absolute)
    app[CONSOLE] = Console(settings, store, sessions, audit, allowlist, public_url, status, http)
    app[AUDIT] = audit
    app[NAV] = [
        NavItem("Status", "/admin/", Role.VIEWER),
        NavItem("Audit log", "/admin/audit", Role.VIEWER),
        NavItem("Allowlist", "/admin/allowlist", Role.OWNER),
        NavItem("Admins", "/admin/admins", Role.OWNER),
    ]
    app.router.add_get("/static/admin.css", public(stylesheet), allow_head=False)
    app.router.add_get("/login", signin.login_page, allow_head=False)
    app.router.add_post("/login/local", signin.login_local)
    app.router.add_post("/logout", signin.logout)
    app.router.add_get("/", pages.home, allow_head=False)
    app.router.add_get("/audit", pages.audit_page, allow_head=False)
    app.router.add_get("/audit.jsonl", pages.audit_export, allow_head=False)
    app.router.add_get("/allowlist", pages.allowlist_page, allow_head=False)
    app.router.add_post("/allowlist", pages.allowlist_save)
    app.router.add_get("/admins", pages.admins_page, allow_head=False)
    if settings.oidc is not None:
        from relay.admin import oidc

        oidc.add_routes(app)
    if settings.saml is not None:
        from relay.admin import saml

        saml.add_routes(app, app[CONSOLE], settings.saml, base)
    for ext in extensions:
        app.router.add_routes(ext.routes)
        app[NAV].extend(ext.nav)
        if ext.setup is not None:
            ext.setup(app)
    app.on_response_prepare.append(secure_headers)
    return app


def start_problems(loaded: Loaded, exposure: Exposure) -> list[str]:
    """Why the console must not start: reachable beyond this machine while its cookie would travel in clear,
    or an audit log it cannot write."""
    settings = loaded.relay.admin
    if not settings.methods:
        return []
    found = []
    if exposure.exposed and not (loaded.relay.server.public_url or "").startswith("https://"):
        found.append(
            f"{loaded.source}: admin: the console is refused because {exposure.why()} and server.public_url is "
            "not https, so its session cookie would cross the network in clear. Put a TLS proxy in front and set "
            "server.public_url to its https:// address, or listen on loopback only (--host 127.0.0.1)"
        )
    path = audit_path(settings, loaded.base)
    if shared_audit(loaded) is None and (problem := writable_problem(path)):
        found.append(
            f"{loaded.source}: admin.audit_log: cannot write the audit log at {path} ({problem}); "
            "set admin.audit_log or RELAY_DATA_DIR to a writable place"
        )
    return found


def mount_admin(
    app: web.Application,
    loaded: Loaded,
    store: StateStore,
    public_url: str,
    status: Callable[[], Awaitable[dict[str, Any]]],
    http: aiohttp.ClientSession,
    extensions: Sequence[Extension] = (),
) -> None:
    """Serve the console at /admin when a sign-in method is configured; without one, /admin does not exist."""
    settings = loaded.relay.admin
    if not settings.methods:
        return
    kinds = {name: inst.manifest.type for name, inst in loaded.instances.items()}
    allowlist = Allowlist(loaded.base, loaded.relay.workspace.allowed_types, kinds)
    shared = shared_audit(loaded)
    console = build_admin(settings, store, allowlist, public_url, status, http, loaded.base, extensions, shared)
    if shared is not None:
        console.cleanup_ctx.append(_opened(shared))
    app.add_subapp("/admin", console)
    app.router.add_get("/admin", _to_console, allow_head=False)


def shared_audit(loaded: Loaded) -> PostgresAudit | None:
    """The audit log all replicas share when the configuration lives in PostgreSQL and `admin.audit_log` names no
    file of this replica's own; None for the file."""
    store = loaded.relay.config_store
    if store.backend != "postgres" or store.dsn is None or loaded.relay.admin.audit_log is not None:
        return None
    from relay.admin.audit_pg import PostgresAudit

    return PostgresAudit(store.dsn.reveal(), loaded.relay.workspace.id, store.schema_name)


def _opened(audit: PostgresAudit) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        await audit.open()
        yield
        await audit.close()

    return lifecycle


async def _to_console(request: web.Request) -> web.Response:
    return signin.see_other("/admin/")
