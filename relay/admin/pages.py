"""The console's own pages: status, audit log (with its export), workspace allowlist and admins."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from aiohttp import web

from relay import registry
from relay.admin.access import CONSOLE, form, needs
from relay.admin.layout import csrf_input, render
from relay.admin.principal import AUDIT, Role, require
from relay.admin.signin import see_other

AUDIT_COLUMNS = ("at", "action", "outcome", "subject", "role", "method", "address")


def _table(caption: str, head: list[str], rows: list[list[str]]) -> str:
    """A table of already-escaped cells."""
    th = "".join(f'<th scope="col">{h}</th>' for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><caption>{caption}</caption><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


@needs(Role.VIEWER)
async def home(request: web.Request) -> web.Response:
    status: dict[str, Any] = await request.app[CONSOLE].status()
    started: dict[str, bool] = status.get("connectors", {})
    problems: dict[str, Any] = status.get("problems", {})
    rows = [
        [
            escape(name),
            '<span class="ok">ready</span>' if ok else '<span class="error">not started</span>',
            escape(str(problems.get(name) or "")),
        ]
        for name, ok in started.items()
    ]
    state = "ready" if status.get("ready") else "not ready"
    body = (
        f"<p>The relay is <strong>{state}</strong>. Accepting messages: "
        f"{'yes' if status.get('accepting') else 'no'}; state store reachable: "
        f"{'yes' if status.get('state_store_reachable') else 'no'}.</p>"
        + _table("Connectors", ["Connector", "Status", "Last problem"], rows)
    )
    return render(request, "Status", body)


def _filter(request: web.Request) -> str:
    return request.query.get("q", "")[:100]


@needs(Role.VIEWER)
async def audit_page(request: web.Request) -> web.Response:
    audit = request.app[AUDIT]
    text = _filter(request)
    entries = await audit.entries(text)
    rows = [
        [escape(str(e.get(c) or "")) for c in AUDIT_COLUMNS] + [escape(", ".join(e.get("keys") or []))] for e in entries
    ]
    query = f"?q={escape(text)}" if text else ""
    body = (
        '<form method="get" action="/admin/audit" role="search"><label for="q">Filter (action, subject, role, '
        f'address, key)</label><input type="search" id="q" name="q" value="{escape(text)}"> '
        '<button type="submit">Filter</button></form>'
        f'<p><a href="/admin/audit.jsonl{query}">Export these entries as JSON lines</a></p>'
        + _table(f"{len(rows)} entries, newest first", [c.capitalize() for c in AUDIT_COLUMNS] + ["Keys"], rows)
    )
    return render(request, "Audit log", body)


@needs(Role.VIEWER)
async def audit_export(request: web.Request) -> web.Response:
    audit = request.app[AUDIT]
    entries = await audit.entries(_filter(request), limit=None)
    who = require(request, Role.VIEWER)
    await audit.record("audit.export", who, request.remote)
    text = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in reversed(entries))
    return web.Response(
        text=text,
        content_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="relay-admin-audit.jsonl"'},
    )


def _allowlist_form(request: web.Request, message: str = "", error: bool = False) -> str:
    allowlist = request.app[CONSOLE].allowlist
    boxes = "".join(
        f'<div><input type="checkbox" id="t-{escape(kind)}" name="type" value="{escape(kind)}"'
        f"{' checked' if allowlist.permits(kind) else ''}{' disabled' if allowlist.pinned else ''}>"
        f' <label for="t-{escape(kind)}" class="inline">{escape(kind)}</label></div>'
        for kind in registry.available()
    )
    note = f'<p class="{"error" if error else "ok"}" role="status">{escape(message)}</p>' if message else ""
    where = (
        "set in the config file (workspace.allowed_types); change it there"
        if allowlist.pinned
        else "every type is allowed until you save a list"
        if allowlist.allowed is None
        else "saved in the console"
    )
    return (
        f"{note}<p>Connector types that may be configured in this workspace: {escape(where)}.</p>"
        f'<form method="post" action="/admin/allowlist">{csrf_input(request)}'
        f"<fieldset><legend>Allowed connector types</legend>{boxes}</fieldset>"
        f'<button type="submit"{" disabled" if allowlist.pinned else ""}>Save</button></form>'
    )


@needs(Role.OWNER)
async def allowlist_page(request: web.Request) -> web.Response:
    return render(request, "Workspace allowlist", _allowlist_form(request))


@needs(Role.OWNER)
async def allowlist_save(request: web.Request) -> web.Response:
    who = require(request, Role.OWNER)
    console = request.app[CONSOLE]
    known = registry.available()
    chosen = sorted({str(v) for v in (await form(request)).getall("type", []) if str(v) in known})
    problem = console.allowlist.refusal(chosen)
    if problem is not None:
        await request.app[AUDIT].record("allowlist.set", who, request.remote, chosen, outcome="refused")
        return render(request, "Workspace allowlist", _allowlist_form(request, problem, error=True), 409)
    problem = await console.allowlist.save(chosen)
    if problem is not None:
        await request.app[AUDIT].record("allowlist.set", who, request.remote, chosen, outcome="unwritable")
        return render(request, "Workspace allowlist", _allowlist_form(request, problem, error=True), 503)
    await request.app[AUDIT].record("allowlist.set", who, request.remote, chosen)
    return see_other("/admin/allowlist")


@needs(Role.OWNER)
async def admins_page(request: web.Request) -> web.Response:
    cfg = request.app[CONSOLE].settings
    rows = [
        [role, escape(", ".join(groups) or "(none)")]
        for role, groups in (("owner", cfg.roles.owner), ("admin", cfg.roles.admin), ("viewer", cfg.roles.viewer))
    ]
    methods = {"oidc": "OpenID Connect", "saml": "SAML 2.0", "local": "break-glass owner (password + TOTP)"}
    listed = "".join(f"<li>{methods[m]}</li>" for m in cfg.methods)
    body = (
        f"<h2>Sign-in methods</h2><ul>{listed}</ul>"
        "<h2>Roles</h2><p>Owners do everything, including this page and the allowlist; admins set up connectors "
        "and routes; viewers read the status and the audit log. The role mapping is set in the config file "
        "(admin.roles).</p>"
        + _table("Identity-provider groups per role", ["Role", "Groups"], rows)
        + f"<p>Sessions end after {int(cfg.session_idle // 60)} minutes idle, {int(cfg.session_absolute // 3600)} "
        "hours at most.</p>"
    )
    return render(request, "Admins", body)
