"""A CRM's file host (where the URLs in a CRM's attachments point): files by name, faults and a record."""

from __future__ import annotations

from aiohttp import web

from tests.support.fake_platform import FakePlatform


class CrmFiles(FakePlatform):
    """Serves `files[name]` at GET /files/<name> with its type (404 for an unknown name), like a CRM's
    file storage or a pre-signed bucket URL; faults through `fail`, every fetch in `recorded`."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, tuple[str, bytes]] = {}

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/files/{name}", self.serve)

    async def serve(self, request: web.Request) -> web.Response:
        found = self.files.get(request.match_info["name"])
        if found is None:
            return web.Response(status=404, text="no such file")
        mime, data = found
        return web.Response(body=data, content_type=mime)
