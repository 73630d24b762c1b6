"""The fake for connectors the relay itself serves (inbox, web chat): a platform with no endpoints."""

from __future__ import annotations

from aiohttp import web

from tests.support.fake_platform import FakePlatform


class NoPlatform(FakePlatform):
    """Nothing to call: the connector's platform is the relay's own pages."""

    def routes(self, app: web.Application) -> None:
        return None
