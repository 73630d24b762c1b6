"""The Graph API's documented checks on what the fake is sent: templates, interactive limits, read/typing."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

BSUID_PREFIX = "US."
MEDIA = ("image", "video", "document")


@dataclass(frozen=True)
class TemplateSpec:
    """An approved template: its header type (or None), body parameter count (or, for a NAMED template, the
    parameters' names), button sub-types, category."""

    header: str | None = None
    body: int = 0
    buttons: tuple[str, ...] = ()
    category: str = "UTILITY"
    status: str = "APPROVED"
    named: tuple[str, ...] = ()
    text: str = ""

    def describe(self, name: str, language: str) -> dict[str, Any]:
        """The template as /message_templates lists it."""
        components: list[dict[str, Any]] = []
        if self.header:
            components.append({"type": "HEADER", "format": self.header.upper()})
        text = self.text or " ".join(f"{{{{{i + 1}}}}}" for i in range(self.body)) or "Hello"
        components.append({"type": "BODY", "text": text})
        if self.buttons:
            kinds = {"quick_reply": "QUICK_REPLY", "url": "URL", "copy_code": "COPY_CODE"}
            components.append({"type": "BUTTONS", "buttons": [{"type": kinds[b], "text": b} for b in self.buttons]})
        return {
            "name": name,
            "language": language,
            "status": self.status,
            "category": self.category,
            "parameter_format": "NAMED" if self.named else "POSITIONAL",
            "components": components,
            "id": f"{abs(hash((name, language))) % 10**15}",
        }


TEMPLATES: dict[tuple[str, str], TemplateSpec] = {
    ("hello_world", "en_US"): TemplateSpec(),
    ("please_reply", "en_US"): TemplateSpec(),
    ("reply_waiting", "pt_BR"): TemplateSpec(body=1),
    ("order_update", "en_US"): TemplateSpec(header="image", body=2, buttons=("quick_reply", "url")),
    ("login_code", "en_US"): TemplateSpec(body=1, buttons=("url",), category="AUTHENTICATION"),
    ("spring_sale", "en_US"): TemplateSpec(status="PAUSED"),
    ("order_ready", "en_US"): TemplateSpec(
        named=("first_name", "order_id"), text="Hi {{first_name}}, order {{order_id}} is ready"
    ),
}

Check = tuple[int, str] | None


def _params(component: dict[str, Any]) -> list[dict[str, Any]]:
    found = component.get("parameters", [])
    return [p for p in found if isinstance(p, dict)] if isinstance(found, list) else []


def _param_ok(p: dict[str, Any]) -> bool:
    kind = p.get("type")
    value = p.get(kind) if isinstance(kind, str) else None
    if kind in ("image", "video", "document"):
        return isinstance(value, dict) and str(value.get("link", "")).startswith(("http://", "https://"))
    if kind == "text":
        text = p.get("text")
        return isinstance(text, str) and bool(text.strip()) and "\n" not in text and len(text) <= 1024
    if kind == "currency":
        return isinstance(value, dict) and isinstance(value.get("amount_1000"), int) and bool(value.get("code"))
    if kind == "date_time":
        return isinstance(value, dict) and bool(value.get("fallback_value"))
    if kind in ("payload", "coupon_code"):
        return isinstance(p.get(kind), str) and bool(p.get(kind))
    return False


def template(body: dict[str, Any], to_bsuid: bool, templates: dict[tuple[str, str], TemplateSpec]) -> Check:
    """132001 unknown name/language, 132015 paused, 131062 authentication template to a BSUID, 132000
    parameter count, 132012 header format or parameters positional where the template is NAMED (or named
    where it is positional), 131009 a parameter invalid."""
    tpl = body.get("template") or {}
    key = (str(tpl.get("name")), str((tpl.get("language") or {}).get("code")))
    spec = templates.get(key)
    if spec is None:
        return 132001, "Template name does not exist in the translation"
    if spec.status == "PAUSED":
        return 132015, "Template is paused"
    if to_bsuid and spec.category == "AUTHENTICATION":
        return 131062, "BSUID recipients not supported for this message"
    comps = [c for c in tpl.get("components", []) if isinstance(c, dict)]
    header = [p for c in comps if c.get("type") == "header" for p in _params(c)]
    body_params = [p for c in comps if c.get("type") == "body" for p in _params(c)]
    buttons = [c for c in comps if c.get("type") == "button"]
    if len(body_params) != (len(spec.named) or spec.body) or len(header) != (1 if spec.header in MEDIA else 0):
        return 132000, "Number of parameters does not match the expected number of params"
    names = [p.get("parameter_name") for p in body_params + [h for h in header if h.get("type") == "text"]]
    if (sorted(map(str, names)) != sorted(spec.named)) if spec.named else any(n is not None for n in names):
        return 132012, "Parameter format does not match format in the created template"
    if header and header[0].get("type") != spec.header:
        return 132012, "Parameter format does not match format in the created template"
    for b in buttons:
        index = int(b.get("index", -1)) if str(b.get("index", "")).isdigit() else -1
        if index >= len(spec.buttons) or spec.buttons[index] != b.get("sub_type"):
            return 131009, "Parameter value is not valid"
    if not all(_param_ok(p) for p in header + body_params + [p for b in buttons for p in _params(b)]):
        return 131009, "Parameter value is not valid"
    return None


def interactive(body: dict[str, Any]) -> Check:
    """Code 100 for what Meta refuses in an interactive message: >3 buttons, titles over 20, >10 rows, …"""
    inter = body.get("interactive") or {}
    kind, action = inter.get("type"), inter.get("action") or {}
    text = (inter.get("body") or {}).get("text")
    if not isinstance(text, str) or not text or len(text) > 1024:
        return 100, "Invalid parameter: body text"
    if kind == "button":
        buttons = action.get("buttons") or []
        titles = [str((b.get("reply") or {}).get("title", "")) for b in buttons]
        if not 1 <= len(buttons) <= 3:
            return 100, "Invalid parameter: buttons must have between 1 and 3 items"
        if any(not t or len(t) > 20 for t in titles) or len(set(titles)) != len(titles):
            return 100, "Invalid parameter: button title length or uniqueness"
        return None
    if kind == "list":
        sections = action.get("sections") or []
        rows = [r for s in sections for r in s.get("rows", [])]
        if not sections or len(sections) > 10 or not 1 <= len(rows) <= 10:
            return 100, "Invalid parameter: a list has 1 to 10 rows in at most 10 sections"
        if len(sections) > 1 and any(not s.get("title") for s in sections):
            return 100, "Invalid parameter: section title required with several sections"
        if any(len(str(r.get("title", ""))) > 24 or len(str(r.get("description", ""))) > 72 for r in rows):
            return 100, "Invalid parameter: row title or description too long"
        if not action.get("button") or len(str(action["button"])) > 20:
            return 100, "Invalid parameter: list button label"
        return None
    if kind == "cta_url":
        params = action.get("parameters") or {}
        if len(str(params.get("display_text", ""))) > 20 or not str(params.get("url", "")).startswith("http"):
            return 100, "Invalid parameter: cta_url display_text or url"
        return None
    return 100, "Invalid parameter: interactive type"


def read(body: dict[str, Any]) -> Check:
    """A read mark needs the message id; the typing indicator's only type is text."""
    if not str(body.get("message_id", "")).startswith("wamid."):
        return 100, "Invalid parameter: message_id"
    indicator = body.get("typing_indicator")
    if indicator is not None and indicator != {"type": "text"}:
        return 100, "Invalid parameter: typing_indicator"
    return None


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:{index:07d}".encode()).decode()


def page(items: list[dict[str, Any]], query: Mapping[str, str], page_max: int) -> dict[str, Any] | None:
    """One page of a Graph edge: `limit` (default 25, at most `page_max`) items from cursor `after`;
    `paging.cursors` name the page's first and last item, `paging.next` (a query here) only when more
    remain. None for a cursor Graph did not give (code 100)."""
    limit = query.get("limit", "25")
    after = query.get("after")
    start = 0
    if after is not None:
        try:
            start = int(base64.b64decode(after, validate=True).decode().removeprefix("cursor:")) + 1
        except ValueError:
            return None
    if not limit.isdigit() or int(limit) < 1:
        return None
    chunk = items[start : start + min(int(limit), page_max)]
    out: dict[str, Any] = {"data": chunk}
    if not chunk:
        return out
    end = start + len(chunk) - 1
    out["paging"] = {"cursors": {"before": _cursor(start), "after": _cursor(end)}}
    if end + 1 < len(items):
        out["paging"]["next"] = urlencode({k: v for k, v in query.items() if k != "after"} | {"after": _cursor(end)})
    return out
