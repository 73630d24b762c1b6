"""Shared pieces of the pages the relay serves (sandbox chat and inbox)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def safe_html_script() -> str:
    """The browser-side HTML filter both pages inline (their CSP allows inline scripts only)."""
    return files("relay").joinpath("static/safe-html.js").read_text(encoding="utf-8")


def render(page: str, **values: str) -> str:
    """Fill a page's {{NAME}} placeholders, including the shared {{SAFE_HTML}} script."""
    for name, value in {"SAFE_HTML": safe_html_script(), **values}.items():
        page = page.replace("{{" + name + "}}", value)
    return page
