"""Guided setup through an OAuth consent page, for connectors that offer it (entry-point group `relay.console`):
start the authorization, take the platform's redirect, store what it issued, apply without restart."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from importlib.metadata import entry_points
from typing import Any, Protocol, cast

from aiohttp import web

from relay.admin.console import Console, audit, changing
from relay.admin.forms import secret_name
from relay.admin.page import page, see_other
from relay.admin.principal import Principal, signed_in
from relay.config import Loaded
from relay.configstore import Document
from relay.connector import ConnectorConfig
from relay.errors import RelayError

GROUP = "relay.console"
STATE_TTL = 600.0


@dataclass(frozen=True, slots=True)
class Connected:
    """What an authorization produced: config keys to set, and secret values by config key."""

    values: Mapping[str, Any]
    secrets: Mapping[str, str]


class OAuthSetup(Protocol):
    """A connector's consent flow, as the console runs it."""

    def authorize_url(self, config: ConnectorConfig, redirect_uri: str, state: str) -> str: ...

    async def finish(self, name: str, loaded: Loaded, redirect_uri: str, code: str) -> Connected: ...


def setup_for(kind: str) -> OAuthSetup | None:
    """The consent flow a connector type registered, if any."""
    found = [ep for ep in entry_points(group=GROUP) if ep.name == kind]
    flow = found[0].load() if found else None
    return cast(OAuthSetup, flow) if flow is not None else None


@dataclass(frozen=True, slots=True)
class _Pending:
    name: str
    who: Principal
    until: float


def oauth_routes(console: Console) -> list[web.RouteDef]:
    """POST …/connect starts the consent; GET …/oauth/callback takes the platform's redirect."""
    base = console.base
    pending: dict[str, _Pending] = {}

    def callback_url(request: web.Request, name: str) -> str:
        return f"{console.relay.public_url}{base}/connectors/{name}/oauth/callback"

    async def start(request: web.Request) -> web.StreamResponse:
        who, _ = await changing(request)
        name = request.match_info["name"]
        inst = console.relay.loaded.instances.get(name)
        flow = setup_for(inst.manifest.type) if inst is not None else None
        if inst is None or flow is None:
            raise web.HTTPNotFound(text=f"no connector named {name} with a consent flow")
        now = time.monotonic()
        for key in [k for k, p in pending.items() if p.until < now]:
            pending.pop(key)
        state = secrets.token_urlsafe(24)
        pending[state] = _Pending(name, who, now + STATE_TTL)
        await audit(request, "connector.connect.start", who, [f"connectors.{name}"])
        raise see_other(flow.authorize_url(inst.config, callback_url(request, name), state))

    async def back(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        found = pending.pop(request.query.get("state", ""), None)
        if found is None or found.name != name or found.until < time.monotonic():
            raise web.HTTPBadRequest(text="this is not the answer to a consent the console started; start again")
        current = signed_in(request)
        if current is not None and current.subject != found.who.subject:
            raise web.HTTPForbidden(text="the consent was started by another user")
        code = request.query.get("code", "")
        inst = console.relay.loaded.instances.get(name)
        flow = setup_for(inst.manifest.type) if inst is not None else None
        if not code or flow is None:
            raise web.HTTPBadRequest(text="the platform sent no authorization code")
        try:
            done = await flow.finish(name, console.relay.loaded, callback_url(request, name), code)
        except RelayError as exc:
            await audit(request, "connector.connect", found.who, [f"connectors.{name}"], "failed")
            return page(request, f"Connect {name}", f"<p class=error>{_text(exc)}</p>", status=502)
        doc = await console.store.read()
        raw = doc.edited()
        body = raw["connectors"][name]
        body.update(done.values)
        stored = dict(doc.secrets)
        for key, value in done.secrets.items():
            stored[secret_name(name, key)] = value
            body[key] = f"${{{secret_name(name, key)}}}"
        _, problems = await console.apply(Document(raw, stored, doc.version))
        keys = sorted(f"connectors.{name}.{k}" for k in {*done.values, *done.secrets})
        await audit(request, "connector.connect", found.who, keys, "refused" if problems else "ok")
        if problems:
            items = "".join(f"<li class=error>{_text(p)}</li>" for p in problems)
            return page(request, f"Connect {name}", f"<ul>{items}</ul>", status=422)
        raise see_other(f"{base}/connectors/{name}/setup?done=connected")

    return [
        web.post("/connectors/{name}/connect", start),
        web.get("/connectors/{name}/oauth/callback", back),
    ]


def _text(value: object) -> str:
    return escape(str(value))
