"""Every connector page of the console, for the admin sub-app to include."""

from __future__ import annotations

from aiohttp import web

from relay.admin.access import CONSOLE, needs, public
from relay.admin.connectors import connector_routes
from relay.admin.console import Console
from relay.admin.layout import NavItem
from relay.admin.oauth import oauth_routes
from relay.admin.principal import Role
from relay.admin.routes_page import routes_pages
from relay.admin.site import Extension
from relay.configstore import FileStore


def console_pages(console: Console) -> list[web.RouteDef]:
    """The connector list and forms, the routes editor, the configuration page with rollback, guided setup."""
    return connector_routes(console) + routes_pages(console) + oauth_routes(console)


_VIEWER_PAGES = {"/connectors", "/routes", "/config"}
_PUBLIC_PAGES = {"/connectors/{name}/oauth/callback"}
NAV_ITEMS = (
    NavItem("Connectors", "/admin/connectors", Role.VIEWER),
    NavItem("Routes", "/admin/routes", Role.VIEWER),
    NavItem("Configuration", "/admin/config", Role.VIEWER),
)


def console_extension(console: Console) -> Extension:
    """The connector pages as console pages, each marked with the lowest role it serves (the pages check it
    too); the OAuth callback is reached by the platform's redirect and checks its one-time state."""
    marked = []
    for route in console_pages(console):
        assert isinstance(route, web.RouteDef)
        if route.path in _PUBLIC_PAGES:
            handler = public(route.handler)
        else:
            viewer = route.method == "GET" and route.path in _VIEWER_PAGES
            handler = needs(Role.VIEWER if viewer else Role.ADMIN)(route.handler)
        kwargs = {**route.kwargs, "allow_head": False} if route.method == "GET" else route.kwargs
        marked.append(web.route(route.method, route.path, handler, **kwargs))

    def running() -> dict[str, str]:
        return {name: inst.manifest.type for name, inst in console.relay.loaded.instances.items()}

    def setup(app: web.Application) -> None:
        app[CONSOLE].allowlist.follow(running)
        if not isinstance(console.store, FileStore):
            app[CONSOLE].allowlist.keep_in_document(console.allowed, console.set_allowed)

    return Extension(marked, NAV_ITEMS, setup)
