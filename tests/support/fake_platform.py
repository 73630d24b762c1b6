"""The base every platform fake builds on: it records each request and applies fault rules first."""

from __future__ import annotations

import asyncio
import fnmatch
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request as the fake received it (a multipart body is left to the handler to read)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(slots=True)
class Rule:
    """A fault: requests matching `method` and the `path` glob get this answer (after `delay`), `times`
    times (None: until removed); `status` 0 with a delay only slows the real answer down. With `after`,
    the real handler runs first (the platform commits) and only then the fault is answered, or with
    `status` 0 the real answer comes late: a relay killed or timed out before it reads the answer.
    `drop` (with `after`) closes the connection instead of answering: the answer is lost."""

    path: str
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int | None = 1
    method: str | None = None
    after: bool = False
    hits: int = 0
    drop: bool = False

    def matches(self, request: web.Request) -> bool:
        if self.method is not None and request.method != self.method:
            return False
        return fnmatch.fnmatchcase(request.path, self.path) and (self.times is None or self.hits < self.times)

    def answer(self) -> web.Response:
        if isinstance(self.body, bytes | str):
            return web.Response(body=self.body, status=self.status, headers=self.headers)
        if self.body is None:
            return web.Response(status=self.status, headers=self.headers)
        return web.json_response(self.body, status=self.status, headers=self.headers)


class FakePlatform:
    """A platform fake: subclasses add routes in `routes(app)`; tests read `recorded` (or `requests()`)
    and add faults with `fail`."""

    client_max_size = 200 << 20

    def __init__(self) -> None:
        self.recorded: list[Recorded] = []
        self.rules: list[Rule] = []

    def routes(self, app: web.Application) -> None:
        """Register the platform's endpoints."""
        raise NotImplementedError

    def fail(self, path: str, status: int = 500, body: Any = None, **more: Any) -> Rule:
        """Answer requests to `path` (a glob) with a fault; returns the rule (see `Rule`)."""
        rule = Rule(path, status, body, **more)
        self.rules.append(rule)
        return rule

    def requests(self, path: str = "*", method: str | None = None) -> list[Recorded]:
        """The recorded requests whose path matches the glob (and method)."""
        return [c for c in self.recorded if fnmatch.fnmatchcase(c.path, path) and method in (None, c.method)]

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = b"" if request.content_type.startswith("multipart/") else await request.read()
        self.recorded.append(Recorded(request.method, request.path, dict(request.query), dict(request.headers), body))
        rule = next((r for r in self.rules if r.matches(request)), None)
        if rule is not None and rule.after:
            rule.hits += 1
            real: web.StreamResponse = await handler(request)
            if rule.delay:
                await asyncio.sleep(rule.delay)
            if rule.drop and request.transport is not None:
                request.transport.close()
            return rule.answer() if rule.status else real
        if rule is not None:
            rule.hits += 1
            if rule.delay:
                await asyncio.sleep(rule.delay)
            if rule.status:
                return rule.answer()
        response: web.StreamResponse = await handler(request)
        return response

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.client_max_size, middlewares=[self._middleware])
        self.routes(app)
        return app
