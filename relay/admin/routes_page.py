"""The routes editor (which messenger goes to which CRM), the config store page with rollback, and guided setup."""

from __future__ import annotations

from html import escape
from typing import Any

from aiohttp import web

from relay import registry
from relay.admin.console import Console, audit, changing, routes_of
from relay.admin.oauth import setup_for
from relay.admin.page import action, csrf_field, page, see_other
from relay.admin.principal import Role, require
from relay.connector import ConnectorKind
from relay.errors import RelayError

DONE = {
    "routes": "Routes applied; no restart was needed.",
    "rollback": "The previous configuration is running again (and the one it replaced is kept for rollback).",
    "registered": "The webhook was registered with the platform.",
    "connected": "Connected: what the platform issued is stored and running; no restart was needed.",
}


def _kinds(raw: dict[str, Any]) -> dict[str, ConnectorKind]:
    out = {}
    for name, body in raw.get("connectors", {}).items():
        try:
            out[name] = registry.load(str(body.get("type"))).kind
        except KeyError:
            continue
    return out


def new_routes(raw: dict[str, Any], crm_of: dict[str, str]) -> list[dict[str, Any]]:
    """[[routes]] for a messenger -> CRM choice, each CRM's existing per-route settings kept."""
    extra = {r.get("to"): {k: v for k, v in r.items() if k not in ("from", "to")} for r in routes_of(raw)}
    grouped: dict[str, list[str]] = {}
    for messenger, crm in crm_of.items():
        grouped.setdefault(crm, []).append(messenger)
    return [{"from": sorted(froms), "to": crm, **extra.get(crm, {})} for crm, froms in sorted(grouped.items())]


def routes_pages(console: Console) -> list[web.RouteDef]:
    """The routes editor, the configuration page (store, rollback) and guided setup pages."""
    base = console.base

    async def routes(request: web.Request) -> web.Response:
        who = require(request, Role.VIEWER)
        raw = (await console.store.read()).raw
        kinds = _kinds(raw)
        crm_of = {m: str(r.get("to")) for r in routes_of(raw) for m in r.get("from", [])}
        crms = sorted(n for n, k in kinds.items() if k is ConnectorKind.CRM)
        rows = []
        for name in sorted(n for n, k in kinds.items() if k is ConnectorKind.MESSENGER):
            current = crm_of.get(name, "")
            if who.role < Role.ADMIN:
                rows.append(f"<tr><th scope=row>{escape(name)}</th><td>{escape(current or '(not routed)')}</td></tr>")
                continue
            opts = '<option value="">(not routed)</option>' + "".join(
                f'<option value="{escape(c)}"{" selected" if c == current else ""}>{escape(c)}</option>' for c in crms
            )
            select = f'<select id="r-{escape(name)}" name="route.{escape(name)}">{opts}</select>'
            rows.append(
                f'<tr><th scope=row><label for="r-{escape(name)}">{escape(name)}</label></th><td>{select}</td></tr>'
            )
        table = (
            '<div class="table-wrap"><table><thead><tr><th scope=col>Messenger</th><th scope=col>Goes to CRM</th>'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )
        if who.role >= Role.ADMIN:
            form = f'<form method="post" action="{base}/routes">{csrf_field(request)}'
            table = f"{form}{table}<button>Apply routes</button></form>"
        return page(request, "Routes", table, DONE.get(request.query.get("done", ""), ""))

    async def save_routes(request: web.Request) -> web.StreamResponse:
        who, form = await changing(request)
        doc = await console.store.read()
        raw = doc.edited()
        kinds = _kinds(raw)
        chosen = {k.removeprefix("route."): v for k, v in form.items() if k.startswith("route.") and v}
        bad = [
            m
            for m, c in chosen.items()
            if kinds.get(m) is not ConnectorKind.MESSENGER or kinds.get(c) is not ConnectorKind.CRM
        ]
        if bad:
            raise web.HTTPBadRequest(text="a route goes from a messenger connector to a CRM connector")
        before = {m: str(r.get("to")) for r in routes_of(raw) for m in r.get("from", [])}
        raw["routes"] = new_routes(raw, chosen)
        _, problems = await console.apply(type(doc)(raw, doc.secrets, doc.version))
        keys = sorted(f"routes.{m}" for m in set(before) | set(chosen) if before.get(m) != chosen.get(m))
        await audit(request, "routes.edit", who, keys, "refused" if problems else "ok")
        if problems:
            return page(request, "Routes not applied", _problems(problems), status=422)
        raise see_other(f"{base}/routes?done=routes")

    async def config_page(request: web.Request) -> web.Response:
        who = require(request, Role.VIEWER)
        store = console.store
        kind = type(store).__name__.removesuffix("Store").lower()
        body = f"<p>Configuration store: <b>{escape(kind)}</b> ({escape(store.source)}).</p>"
        if await store.has_previous():
            body += "<p>The version before the last change is kept.</p>"
            if who.role >= Role.ADMIN:
                body += action(request, f"{base}/config/rollback", "Roll back to the previous version")
        else:
            body += "<p>No previous version is kept yet.</p>"
        return page(request, "Configuration", body, DONE.get(request.query.get("done", ""), ""))

    async def rollback(request: web.Request) -> web.StreamResponse:
        who, _ = await changing(request)
        store = console.store
        current = await store.read()
        previous = await store.rollback()
        if previous is None:
            raise web.HTTPConflict(text="no previous version to roll back to")
        changes = await console.reload(previous)
        if changes is None:
            await store.rollback()
            await audit(request, "config.rollback", who, [], "refused")
            return page(
                request,
                "Rollback not applied",
                "<p>The previous version does not run here; nothing changed.</p>",
                status=422,
            )
        changed = sorted(
            {*current.raw} ^ {*previous.raw} | {k for k in current.raw if current.raw[k] != previous.raw.get(k)}
        )
        await audit(request, "config.rollback", who, changed)
        raise see_other(f"{base}/config?done=rollback")

    async def setup(request: web.Request) -> web.Response:
        require(request, Role.ADMIN)
        name = request.match_info["name"]
        conn = console.relay.connectors.get(name)
        if conn is None:
            raise web.HTTPNotFound(text=f"no running connector named {name}")
        if setup_for(conn.manifest.type) is not None:
            body = (
                f"<p>Authorize the relay in {escape(conn.manifest.summary)}: the consent page opens, and when you "
                "approve, the relay stores what it issued (secrets in the encrypted store) and applies it.</p>"
                + action(request, f"{base}/connectors/{name}/connect", f"Connect {conn.manifest.type}")
            )
            return page(request, f"Set up {name}", body, DONE.get(request.query.get("done", ""), ""))
        if conn.manifest.type != "telegram" or getattr(conn.config, "mode", "") != "webhook":
            return page(request, f"Set up {name}", "<p>This connector needs no registration step.</p>")
        body = (
            "<ol><li>Create a bot with @BotFather and paste its token into the connector's form.</li>"
            f"<li>Telegram will send updates to <code>{escape(conn.ctx.hook_url('/'))}</code>, with the secret token "
            "you set. The relay registers it when the connector starts; register it again here after changing the "
            "relay's public URL.</li></ol>"
            + action(request, f"{base}/connectors/{name}/setup", "Register the webhook with Telegram")
        )
        return page(request, f"Set up {name}", body, DONE.get(request.query.get("done", ""), ""))

    async def register(request: web.Request) -> web.StreamResponse:
        who, _ = await changing(request)
        name = request.match_info["name"]
        conn = console.relay.connectors.get(name)
        if conn is None or conn.manifest.type != "telegram":
            raise web.HTTPNotFound(text=f"no running Telegram connector named {name}")
        try:
            await conn.start()
        except RelayError as exc:
            await audit(request, "connector.register", who, [f"connectors.{name}"], "failed")
            return page(request, f"Set up {name}", f"<p class=error>{escape(str(exc))}</p>", status=502)
        await audit(request, "connector.register", who, [f"connectors.{name}"])
        raise see_other(f"{base}/connectors/{name}/setup?done=registered")

    return [
        web.get("/routes", routes),
        web.post("/routes", save_routes),
        web.get("/config", config_page),
        web.post("/config/rollback", rollback),
        web.get("/connectors/{name}/setup", setup),
        web.post("/connectors/{name}/setup", register),
    ]


def _problems(problems: list[str]) -> str:
    return "<ul>" + "".join(f'<li class="error">{escape(p)}</li>' for p in problems) + "</ul>"
