"""A POST to an unknown /hooks path answers JSON naming where CRM answers go, not a bare text 404."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from relay.connector import Connector, ConnectorKind


def wrong_hook_path(connectors: Mapping[str, Connector]) -> Middleware:
    """Middleware: a 404 under /hooks/ becomes `{"error": …, "answer_paths": [...]}` listing the CRM connectors."""
    paths = sorted(f"/hooks/{n}" for n, c in connectors.items() if c.manifest.kind is ConnectorKind.CRM)
    error = (
        "no such hook path; CRM answers go to /hooks/<name of the CRM connector> "
        f"({', '.join(paths) or 'none configured'}), not to the event's channel"
    )

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "POST" or not request.path.startswith("/hooks/"):
            return await handler(request)
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return web.json_response({"error": error, "answer_paths": paths}, status=404)

    return middleware
