"""The connector pages' HTML: the console's frame with a notice, the CSRF field, one-button forms."""

from __future__ import annotations

from html import escape

from aiohttp import web

from relay.admin.layout import render
from relay.admin.principal import CSRF_FIELD, csrf_token


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


def page(request: web.Request, title: str, body: str, notice: str = "", status: int = 200) -> web.Response:
    """A whole page in the console's frame (its navigation, sign-out, stylesheet); `notice` is plain text shown
    above the content."""
    note = f'<p class="notice" role="status">{escape(notice)}</p>' if notice else ""
    response = render(request, title, note + body, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def see_other(url: str) -> web.HTTPSeeOther:
    """The redirect after a successful change."""
    return web.HTTPSeeOther(url)
