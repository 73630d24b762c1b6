"""Every connector page of the console, for the admin sub-app to include."""

from __future__ import annotations

from aiohttp import web

from relay.admin.connectors import connector_routes
from relay.admin.console import Console
from relay.admin.oauth import oauth_routes
from relay.admin.routes_page import routes_pages


def console_pages(console: Console) -> list[web.RouteDef]:
    """The connector list and forms, the routes editor, the configuration page with rollback, guided setup."""
    return connector_routes(console) + routes_pages(console) + oauth_routes(console)
