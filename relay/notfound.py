"""A POST to an unknown /hooks path answers JSON naming where CRM answers go, not a bare text 404."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from relay.connector import Connector, ConnectorKind

PATH = "/hooks/{rest:.*}"


def wrong_hook_path(
    connectors: Mapping[str, Connector], dispatch: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = None
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The handler of the last route under /hooks/ (PATH, any method): the routes of a connector added while
    the app runs (through `dispatch`); otherwise a POST gets `{"error": …, "answer_paths": [...]}` listing
    the CRM connectors, anything else the plain 404. Being a route (not a middleware), it costs the requests
    that match a real route nothing."""

    async def not_found(request: web.Request) -> web.StreamResponse:
        if dispatch is not None:
            try:
                return await dispatch(request)
            except web.HTTPNotFound:
                pass
        if request.method != "POST":
            raise web.HTTPNotFound()
        paths = sorted(f"/hooks/{n}" for n, c in connectors.items() if c.manifest.kind is ConnectorKind.CRM)
        error = (
            "no such hook path; CRM answers go to /hooks/<name of the CRM connector> "
            f"({', '.join(paths) or 'none configured'}), not to the event's channel"
        )
        return web.json_response({"error": error, "answer_paths": paths}, status=404)

    return not_found
