"""The /hooks routes of the running connectors, replaceable while the app serves (aiohttp's router is frozen)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from aiohttp.web_urldispatcher import UrlDispatcher

from relay import hooks
from relay.connector import Connector, Hook
from relay.engine import Engine
from relay.exposure import Exposure, local_only
from relay.http import SHED, Handler, guarded, respond


def shedder(engine: Engine, connector: str) -> Callable[[], web.Response | None]:
    """Under overload, a 503 + Retry-After for new hook POSTs, decided before reading or parsing them."""

    def refuse() -> web.Response | None:
        reason = engine.shed_reason(connector)
        if reason is None:
            return None
        engine.metrics.inc("relay_rejected_total", connector=connector, reason=reason)
        return respond(SHED[reason])

    return refuse


Refuser = Callable[[str], Callable[[], web.Response | None]]
Tracer = Callable[[Handler, str], Handler]


class HookTable:
    """Each instance's routes in a router of its own; `dispatch` serves /hooks/<instance>/... from the current one."""

    def __init__(self, exposure: Exposure, refuser: Refuser, traced: Tracer | None = None) -> None:
        self.exposure = exposure
        self.refuser = refuser
        self.traced = traced
        self._routers: dict[str, UrlDispatcher] = {}
        self._handlers: dict[str, dict[tuple[str, str], Handler]] = {}

    def mount(self, name: str, conn: Connector) -> None:
        """Serve `conn`'s routes from now on (replacing the routes of an earlier instance of that name)."""
        router = UrlDispatcher()
        handlers: dict[tuple[str, str], Handler] = {}
        for route in conn.routes():
            refuse = self.refuser(name) if route.method == "POST" else None
            serve: Handler
            if isinstance(route, Hook):
                serve = hooks.handler(route, conn.ctx)
            else:
                serve = local_only(route.handler, self.exposure) if route.local else route.handler
            serve = guarded(serve, refuse)
            if self.traced is not None and isinstance(route, Hook):
                serve = self.traced(serve, name)
            router.add_route(route.method, f"/hooks/{name}{route.path}", serve)
            handlers[(route.method, route.path)] = serve
        router.freeze()
        self._routers[name] = router
        self._handlers[name] = handlers

    def unmount(self, name: str) -> None:
        """Stop serving `name`'s routes: its paths answer 404."""
        self._routers.pop(name, None)
        self._handlers.pop(name, None)

    def fixed(self, name: str, method: str, path: str) -> Handler:
        """The app router's handler for a route of an instance present at start: whatever instance of that
        name serves the route now (one dictionary look-up, no second resolve), else 404."""

        async def serve(request: web.Request) -> web.StreamResponse:
            found = self._handlers.get(name, {}).get((method, path))
            if found is None:
                raise web.HTTPNotFound()
            return await found(request)

        return serve

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        """The handler of the current instance's route matching the request; 404/405 like the app's router."""
        parts = request.path.split("/", 3)
        router = self._routers.get(parts[2] if len(parts) > 2 else "")
        if router is None:
            raise web.HTTPNotFound()
        match = await router.resolve(request)
        if match.http_exception is not None:
            raise match.http_exception
        outer = request._match_info
        for app in outer.apps if outer is not None else ():
            match.add_app(app)
        match.freeze()
        request._match_info = match  # the route's own parameters, as the app's router would have set them
        request._cache.pop("match_info", None)
        return await match.handler(request)
