"""The HTML frame of the connector pages: a phone-friendly layout, the CSRF field, and safe text."""

from __future__ import annotations

from html import escape

from aiohttp import web

from relay.admin.principal import CSRF_FIELD, csrf_token
from relay.inert import page_policy

STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:50em;padding:0 1em;color:#111}"
    "nav a{margin-right:1em}table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3em;"
    "border-bottom:1px solid #ccc;vertical-align:top}.field{margin:.8em 0}.field label{display:block;font-weight:600}"
    ".check label{display:inline}input[type=text],input[type=password],select,textarea{width:100%;max-width:30em;"
    "font:inherit;padding:.3em;box-sizing:border-box}.help{margin:.2em 0;color:#444;font-size:.9em}"
    ".error{color:#a00000;margin:.2em 0;font-weight:600}.ok{color:#05620f}.bad{color:#a00000}"
    "button{font:inherit;padding:.4em 1em;margin:.2em 0}form.inline{display:inline}"
    ".table-wrap{overflow-x:auto}.notice{padding:.5em;border:1px solid #888;margin:1em 0}"
)


def csrf_field(request: web.Request) -> str:
    """The hidden CSRF input every form carries."""
    return f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token(request))}">'


def action(request: web.Request, url: str, label: str, aria: str = "") -> str:
    """A one-button POST form (state changes are never links); `aria` names the button for screen readers."""
    named = f' aria-label="{escape(aria)}"' if aria else ""
    return (
        f'<form class="inline" method="post" action="{escape(url)}">{csrf_field(request)}'
        f"<button{named}>{escape(label)}</button></form>"
    )


def page(base: str, title: str, body: str, notice: str = "", status: int = 200) -> web.Response:
    """A whole page; `notice` is plain text shown above the content."""
    note = f'<p class="notice" role="status">{escape(notice)}</p>' if notice else ""
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{escape(title)} · Relay admin</title><style>{STYLE}</style></head>'
        f'<body><header><nav aria-label="Console"><a href="{base}/connectors">Connectors</a>'
        f'<a href="{base}/routes">Routes</a><a href="{base}/config">Configuration</a></nav></header>'
        f"<main><h1>{escape(title)}</h1>{note}{body}</main></body></html>"
    )
    policy = page_policy(html.encode()).replace("form-action 'none'", "form-action 'self'")
    headers = {"Cache-Control": "no-store", "Content-Security-Policy": policy, "X-Frame-Options": "DENY"}
    return web.Response(text=html, status=status, content_type="text/html", headers=headers)


def see_other(url: str) -> web.HTTPSeeOther:
    """The redirect after a successful change."""
    return web.HTTPSeeOther(url)
