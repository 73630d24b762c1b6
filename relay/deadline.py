"""A deadline for request headers (slowloris): a connection that does not finish sending a request's
headers in time is closed. Bodies have their own deadline in relay.http.read_body."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler


class HeaderDeadline:
    """A protocol factory for the runner's server: each connection must deliver a request's complete
    headers within `timeout` seconds, counted from the connection's opening for its first request and
    from the first byte of each later one (a kept-alive connection may stay idle in between).

    Bytes that share one TCP segment with the end of the previous body and then stall are bounded by
    aiohttp's keep-alive timeout instead: the parser's partial state is not visible from here."""

    def __init__(self, server: web.Server, timeout: float, on_expire: Callable[[], None] | None = None) -> None:
        self.server = server
        self.timeout = timeout
        self.on_expire = on_expire
        self.live: dict[RequestHandler, _Guarded] = {}
        handle = server.request_handler

        async def tracked(request: web.BaseRequest) -> web.StreamResponse:
            guard = self.live.get(request.protocol)
            if guard is None:
                return await handle(request)
            guard.begin(request)
            try:
                return await handle(request)
            finally:
                guard.end()

        server.request_handler = tracked

    def __call__(self) -> asyncio.Protocol:
        return _Guarded(self, self.server())


class _Guarded(asyncio.Protocol):
    """One connection: forwards every event to aiohttp's handler, with a timer while headers are due."""

    def __init__(self, owner: HeaderDeadline, inner: RequestHandler) -> None:
        self.owner = owner
        self.inner = inner
        self.loop = asyncio.get_running_loop()
        self.timer: asyncio.TimerHandle | None = None
        self.current: web.BaseRequest | None = None
        self.next_started = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.owner.live[self.inner] = self
        self._arm()
        self.inner.connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        self.owner.live.pop(self.inner, None)
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.current is None:
            if self.timer is None:
                self._arm()
        elif self.current.content.is_eof():
            self.next_started = True
        self.inner.data_received(data)

    def eof_received(self) -> None:
        self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def begin(self, request: web.BaseRequest) -> None:
        """A request's headers are complete: no deadline while it is handled."""
        self._disarm()
        self.current = request
        self.next_started = False

    def end(self) -> None:
        self.current = None
        if self.next_started:
            self._arm()

    def _arm(self) -> None:
        self._disarm()
        self.timer = self.loop.call_later(self.owner.timeout, self._expire)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _expire(self) -> None:
        self.timer = None
        if self.current is None:
            if self.owner.on_expire is not None:
                self.owner.on_expire()
            self.inner.force_close()


class GuardedSite(web.TCPSite):
    """A TCPSite whose connections go through a HeaderDeadline."""

    __slots__ = ("_guard",)

    def __init__(self, runner: web.BaseRunner, host: str, port: int, guard: HeaderDeadline, **kw: Any) -> None:
        super().__init__(runner, host, port, **kw)
        self._guard = guard

    async def start(self) -> None:
        await web.BaseSite.start(self)
        self._server = await asyncio.get_running_loop().create_server(
            self._guard,
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port


def guarded_site(
    runner: web.BaseRunner,
    host: str,
    port: int,
    header_timeout: float,
    on_expire: Callable[[], None] | None = None,
) -> GuardedSite:
    """A site on host:port for a set-up runner, closing connections that send headers too slowly."""
    assert runner.server is not None, "call runner.setup() first"
    return GuardedSite(runner, host, port, HeaderDeadline(runner.server, header_timeout, on_expire))
