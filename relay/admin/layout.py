"""The console's page frame: header, navigation for the signed-in role, sign-out, no inline script."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from aiohttp import web

from relay.admin.principal import CSRF_FIELD, Role, csrf_token, signed_in


@dataclass(frozen=True, slots=True)
class NavItem:
    """A link in the console's navigation, shown to roles that reach `role`."""

    label: str
    path: str
    role: Role


NAV: web.AppKey[list[NavItem]] = web.AppKey("relay.admin.nav")
STYLE = """
*{box-sizing:border-box}body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fff}
header{background:#123;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center}
header a{color:#fff}nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem 1rem}
main{max-width:60rem;margin:0 auto;padding:1rem}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #ccc;vertical-align:top;overflow-wrap:anywhere}
label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input[type=text],input[type=password],input[type=search]{font:inherit;padding:.5rem;width:100%;max-width:24rem}
button,.button{font:inherit;padding:.5rem 1rem;border:1px solid #123;background:#123;color:#fff;border-radius:.25rem;
cursor:pointer;display:inline-block;text-decoration:none;margin:.25rem 0}
.ghost{background:#fff;color:#123}.error{color:#a00000;font-weight:600}.ok{color:#05620a}
.who{margin-left:auto}.field{margin:.8rem 0}.help{margin:.2rem 0;color:#444;font-size:.9em}
.check label{display:inline}select,textarea{font:inherit;padding:.5rem;width:100%;max-width:24rem}.bad{color:#a00000}
form.inline{display:inline}.table-wrap{overflow-x:auto}.notice{padding:.5rem;border:1px solid #888;margin:1rem 0}
label.inline{display:inline;font-weight:400}fieldset{border:1px solid #ccc;margin:1rem 0}
@media (max-width:40rem){th,td{display:block;border:0}tr{display:block;border-bottom:1px solid #ccc;padding:.4rem 0}
thead{display:none}header{flex-direction:column;align-items:flex-start}.who{margin-left:0}}
"""


def csrf_input(request: web.Request) -> str:
    """The hidden form field carrying this session's CSRF token."""
    return f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token(request))}">'


def _header(request: web.Request) -> str:
    who = signed_in(request)
    if who is None:
        return "<header><strong>Relay admin</strong></header>"
    links = "".join(
        f'<li><a href="{escape(item.path)}">{escape(item.label)}</a></li>'
        for item in request.app.get(NAV, ())
        if who.role >= item.role
    )
    return (
        '<header><strong>Relay admin</strong><nav aria-label="Console"><ul>'
        f"{links}</ul></nav>"
        f'<form class="who" method="post" action="/admin/logout">{csrf_input(request)}'
        f"<span>{escape(who.name)} ({who.role.name.lower()}) </span>"
        '<button type="submit" class="ghost">Sign out</button></form></header>'
    )


def render(request: web.Request, title: str, body: str, status: int = 200) -> web.Response:
    """A whole console page: `body` is HTML the caller has escaped."""
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(title)} · Relay admin</title><link rel="icon" href="data:,">'
        '<link rel="stylesheet" href="/admin/static/admin.css"></head><body>'
        f'{_header(request)}<main id="main"><h1>{escape(title)}</h1>{body}</main></body></html>'
    )
    return web.Response(text=page, content_type="text/html", status=status)


async def stylesheet(request: web.Request) -> web.Response:
    """The console's only stylesheet (served from the relay: the CSP allows no inline style)."""
    return web.Response(text=STYLE, content_type="text/css", headers={"Cache-Control": "no-store"})
