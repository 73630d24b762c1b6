"""Connector pages: the list with live status, test connection, add / edit / disable through generated forms."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from aiohttp import web

from relay import registry
from relay.admin.allowlist import refused_type
from relay.admin.connector_status import counters, status, tested
from relay.admin.console import Console, audit, changing, routes_of
from relay.admin.forms import field_errors, fields_of, read_form, render_field
from relay.admin.oauth import setup_for
from relay.admin.page import action, csrf_field, page, see_other
from relay.admin.principal import Role, require
from relay.checkup import check_one
from relay.config import _INSTANCE
from relay.configstore import Document
from relay.connector import ConnectorKind

ROUTED_TO = "_routed_to"  # kept in a disabled connector's table: the CRM its messages went to
DONE = {
    "added": "Connector added and started; no restart was needed.",
    "saved": "Changes applied: the new settings are running; no restart was needed.",
    "disabled": "Connector disabled and stopped; its routes were removed.",
    "enabled": "Connector enabled and started, with the route it had.",
}


def connector_routes(console: Console) -> list[web.RouteDef]:
    """The connector pages, relative to the console's root (the admin sub-app mounts them at `console.base`)."""
    base = console.base

    async def listing(request: web.Request) -> web.Response:
        who = require(request, Role.VIEWER)
        doc = await console.store.read()
        admin = who.role >= Role.ADMIN
        rows = []
        for name, body in doc.raw.get("connectors", {}).items():
            kind = escape(str(body.get("type", "?")))
            buttons = ""
            if admin:
                buttons = (
                    f'<a href="{base}/connectors/{escape(name)}" aria-label="Edit {escape(name)}">Edit</a> '
                    + action(request, f"{base}/connectors/{name}/test", "Test connection", f"Test connection {name}")
                    + action(request, f"{base}/connectors/{name}/disable", "Disable", f"Disable {name}")
                )
                if body.get("type") == "telegram" or setup_for(str(body.get("type"))) is not None:
                    setup = f"{base}/connectors/{escape(name)}/setup"
                    buttons += f' <a href="{setup}" aria-label="Set up {escape(name)}">Set up</a>'
            rows.append(
                f"<tr><th scope=row>{escape(name)}</th><td>{kind}</td><td>{status(console, name)}</td>"
                f"<td>{counters(console, name)}</td><td>{tested(console, name)}</td><td>{buttons}</td></tr>"
            )
        for name, body in doc.raw.get("disabled", {}).items():
            enable = action(request, f"{base}/connectors/{name}/enable", "Enable", f"Enable {name}")
            rows.append(
                f"<tr><th scope=row>{escape(name)}</th><td>{escape(str(body.get('type', '?')))}</td>"
                f"<td>disabled</td><td></td><td></td><td>{enable if admin else ''}</td></tr>"
            )
        add = f'<p><a href="{base}/connectors/new">Add a connector</a></p>' if admin else ""
        table = (
            '<div class="table-wrap"><table><thead><tr><th scope=col>Name</th><th scope=col>Type</th>'
            "<th scope=col>Status</th><th scope=col>Messages</th><th scope=col>Last test</th>"
            f"<th scope=col>Actions</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )
        return page(request, "Connectors", add + table, DONE.get(request.query.get("done", ""), ""))

    async def choose(request: web.Request) -> web.Response:
        require(request, Role.ADMIN)
        allowed, where = await console.allowlist()
        kinds = [t for t in registry.available() if refused_type(t, allowed, where) is None]
        items = "".join(
            f'<li><a href="{base}/connectors/new/{escape(t)}">{escape(t)}</a>: {escape(registry.load(t).summary)}</li>'
            for t in kinds
        )
        hidden = len(registry.available()) - len(kinds)
        note = (
            f"<p>{hidden} more types are not allowed in this workspace ({escape(where)}); the workspace owner can "
            'allow them on the <a href="/admin/allowlist">allowlist page</a>.</p>'
            if hidden
            else ""
        )
        return page(request, "Add a connector", f"<p>Choose the connector type.</p><ul>{items}</ul>{note}")

    async def not_allowed(request: web.Request, kind: str) -> web.Response | None:
        why = await console.refusal(kind)
        if why is None:
            return None
        body = f'<p class="error" role="alert">{escape(why)}</p>'
        return page(request, "Connector type not allowed", body, status=403)

    def form_page(
        request: web.Request,
        kind: str,
        name: str | None,
        body: Mapping[str, Any],
        errors: Mapping[str, str],
        problems: list[str],
    ) -> web.Response:
        manifest = registry.load(kind)
        fields = "".join(render_field(f, body, errors.get(f.key)) for f in fields_of(manifest.config))
        top = [*problems, *([errors[""]] if "" in errors else [])]
        top_html = (
            '<div role="alert"><p class="error">The change was not applied:</p><ul>'
            + "".join(f'<li class="error">{escape(p)}</li>' for p in top)
            + "</ul></div>"
            if top
            else ""
        )
        if name is None:
            target = f"{base}/connectors/new/{kind}"
            name_field = (
                '<div class="field"><label for="f-name">Instance name (required)</label>'
                '<input type="text" id="f-name" name="name" required aria-describedby="f-name-help" '
                f'value="{escape(str(body.get("__name", "")))}">'
                '<p class="help" id="f-name-help">Lowercase letters, digits, - and _; it names the connector '
                "in routes and in its webhook path /hooks/&lt;name&gt;.</p>"
                + (f'<p class="error">{escape(errors["__name"])}</p>' if "__name" in errors else "")
                + "</div>"
            )
            if manifest.kind is ConnectorKind.MESSENGER:
                name_field += _route_field(console, str(body.get("__route", "")))
            title = f"Add a {manifest.type} connector"
        else:
            target, name_field, title = f"{base}/connectors/{name}", "", f"Edit {name} ({manifest.type})"
        form = (
            f'{top_html}<p>{escape(manifest.summary)}</p><form method="post" action="{escape(target)}">'
            f"{csrf_field(request)}{name_field}{fields}<button>Save and apply</button></form>"
        )
        return page(request, title, form, status=422 if top or errors else 200)

    async def save(request: web.Request, kind: str, name: str | None) -> web.StreamResponse:
        who, form = await changing(request)
        if refused := await not_allowed(request, kind):
            await audit(request, "connector.add" if name is None else "connector.edit", who, [], "not allowed")
            return refused
        manifest = registry.load(kind)
        fields = fields_of(manifest.config)
        doc = await console.store.read()
        raw = doc.edited()
        connectors = raw.setdefault("connectors", {})
        adding = name is None
        name = form.get("name", "").strip() if name is None else name
        old = {} if adding else dict(connectors.get(name, {}))
        body, secrets = read_form(fields, form, old, name)
        body = {"type": kind, **{k: v for k, v in body.items() if k != "type"}}
        lookup = {**doc.secrets, **secrets}
        errors = field_errors(manifest.config, body, lookup)
        if adding and not _INSTANCE.match(name):
            errors["__name"] = "lowercase letters, digits, '-' and '_', starting with a letter (max 32)"
        elif adding and (name in connectors or name in raw.get("disabled", {})):
            errors["__name"] = "a connector of this name exists; choose another name"
        keys = sorted({f"connectors.{name}.{k}" for k in set(body) | set(old) if body.get(k) != old.get(k)})
        verb = "connector.add" if adding else "connector.edit"
        if errors:
            await audit(request, verb, who, keys, "invalid")
            shown = {**body, "__name": name, "__route": form.get("route_to", "")}
            return form_page(request, kind, None if adding else name, shown, errors, [])
        connectors[name] = body
        route_to = form.get("route_to", "")
        if adding and route_to:
            raw["routes"] = [*routes_of(raw), {"from": [name], "to": route_to}]
            keys.append(f"routes.{name}")
        _, problems = await console.apply(Document(raw, lookup, doc.version))
        await audit(request, verb, who, keys, "refused" if problems else "ok")
        if problems:
            return form_page(
                request, kind, None if adding else name, {**body, "__name": name, "__route": route_to}, {}, problems
            )
        raise see_other(f"{base}/connectors?done={'added' if adding else 'saved'}")

    async def new_form(request: web.Request) -> web.StreamResponse:
        require(request, Role.ADMIN)
        kind = _kind(request.match_info["type"])
        return await not_allowed(request, kind) or form_page(request, kind, None, {}, {}, [])

    async def new_save(request: web.Request) -> web.StreamResponse:
        return await save(request, _kind(request.match_info["type"]), None)

    async def edit_form(request: web.Request) -> web.StreamResponse:
        require(request, Role.ADMIN)
        name = request.match_info["name"]
        body = (await console.store.read()).raw.get("connectors", {}).get(name)
        if not isinstance(body, dict):
            raise web.HTTPNotFound(text=f"no connector named {name}")
        kind = _kind(str(body.get("type")))
        return await not_allowed(request, kind) or form_page(request, kind, name, body, {}, [])

    async def edit_save(request: web.Request) -> web.StreamResponse:
        require(request, Role.ADMIN)
        name = request.match_info["name"]
        body = (await console.store.read()).raw.get("connectors", {}).get(name)
        if not isinstance(body, dict):
            raise web.HTTPNotFound(text=f"no connector named {name}")
        return await save(request, _kind(str(body.get("type"))), name)

    async def test(request: web.Request) -> web.StreamResponse:
        who, _ = await changing(request)
        name = request.match_info["name"]
        conn = console.relay.connectors.get(name)
        if conn is None:
            raise web.HTTPNotFound(text=f"no running connector named {name}")
        console.tests[name] = await check_one(conn, console.relay.loaded.instances[name].config)
        await audit(request, "connector.test", who, [f"connectors.{name}"])
        raise see_other(f"{base}/connectors")

    async def toggle(request: web.Request, enable: bool) -> web.StreamResponse:
        who, _ = await changing(request)
        name = request.match_info["name"]
        doc = await console.store.read()
        raw = doc.edited()
        source, target = ("disabled", "connectors") if enable else ("connectors", "disabled")
        body = raw.get(source, {}).pop(name, None)
        if body is None:
            raise web.HTTPNotFound(text=f"no connector named {name} to {'enable' if enable else 'disable'}")
        routed_to = body.pop(ROUTED_TO, None)
        if enable and isinstance(routed_to, str) and routed_to in raw.get("connectors", {}):
            raw["routes"] = [*routes_of(raw), {"from": [name], "to": routed_to}]
        if not enable:
            for route in routes_of(raw):
                if name in route.get("from", []):
                    body[ROUTED_TO] = route.get("to")
            kept = [{**r, "from": [m for m in r.get("from", []) if m != name]} for r in routes_of(raw)]
            raw["routes"] = [r for r in kept if r["from"] and r.get("to") != name]
        raw.setdefault(target, {})[name] = body
        if not raw.get("disabled"):
            raw.pop("disabled", None)
        _, problems = await console.apply(Document(raw, doc.secrets, doc.version))
        verb = "connector.enable" if enable else "connector.disable"
        await audit(request, verb, who, [f"connectors.{name}"], "refused" if problems else "ok")
        if problems:
            items = "".join(f"<li>{escape(p)}</li>" for p in problems)
            return page(request, "Not applied", f"<ul>{items}</ul>", status=422)
        raise see_other(f"{base}/connectors?done={'enabled' if enable else 'disabled'}")

    async def disable(request: web.Request) -> web.StreamResponse:
        return await toggle(request, False)

    async def enable(request: web.Request) -> web.StreamResponse:
        return await toggle(request, True)

    return [
        web.get("/connectors", listing),
        web.get("/connectors/new", choose),
        web.get("/connectors/new/{type}", new_form),
        web.post("/connectors/new/{type}", new_save),
        web.get("/connectors/{name}", edit_form),
        web.post("/connectors/{name}", edit_save),
        web.post("/connectors/{name}/test", test),
        web.post("/connectors/{name}/disable", disable),
        web.post("/connectors/{name}/enable", enable),
    ]


def _route_field(console: Console, current: str) -> str:
    crms = [n for n, c in console.relay.connectors.items() if c.manifest.kind is ConnectorKind.CRM]
    opts = '<option value="">(none yet)</option>' + "".join(
        f'<option value="{escape(c)}"{" selected" if c == current else ""}>{escape(c)}</option>' for c in crms
    )
    return (
        '<div class="field"><label for="f-route_to">Route its messages to CRM</label>'
        f'<select id="f-route_to" name="route_to" aria-describedby="f-route_to-help">{opts}</select>'
        '<p class="help" id="f-route_to-help">A messenger needs a route; change it on the Routes page.</p></div>'
    )


def _kind(name: str) -> str:
    try:
        return registry.load(name).type
    except KeyError:
        raise web.HTTPNotFound(text="no such connector type") from None
