"""What WhatsApp sends and receives beyond plain messages, apart from convert.py (which would pass 300 lines with
it): recipients by phone or business-scoped user id, templates and their listing, interactive messages, read and
typing, picks, completed flows and changed numbers."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.whatsapp.markup import obj
from relay.errors import DeliveryError
from relay.interact import Choice, Choices, ChoiceStyle, ParamKind, Template, TemplateParam, numbered
from relay.model import Party
from relay.reasons import Reason

BSUID = re.compile(r"^[A-Z]{2}(\.ENT)?\.[A-Za-z0-9]{1,128}$")
MAX_BODY = 1024
FLOW_FIELDS = 50
MEDIA = (ParamKind.IMAGE, ParamKind.VIDEO, ParamKind.DOCUMENT)
_CURRENCY = re.compile(r"^([A-Z]{3})\s+(-?[0-9]+(?:\.[0-9]+)?)$")


def recipient(chat: str) -> dict[str, str]:
    """Who a send goes to: `to` for a phone number, `recipient` for a business-scoped user id (no phone)."""
    if chat.isdigit():
        return {"to": chat}
    if BSUID.match(chat):
        return {"recipient": chat}
    raise DeliveryError(Reason.INVALID_RECIPIENT)


def envelope(to: str, ref: str | None) -> dict[str, Any]:
    """The common part of every send, with the quoted message when replying."""
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual", **recipient(to)}
    if ref:
        body["context"] = {"message_id": ref}
    return body


def reaction_body(to: str, ref: str, emoji: str) -> dict[str, Any]:
    """A reaction (an empty emoji removes it)."""
    body = envelope(to, None)
    body.update(type="reaction", reaction={"message_id": ref, "emoji": emoji})
    return body


def template_body(to: str, name: str, language: str, parameter: str | None) -> dict[str, Any]:
    """A template send; `parameter` fills body variable {{1}} (newlines and runs of spaces are not allowed)."""
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if parameter is not None:
        flat = " ".join(parameter.split()) or "-"
        template["components"] = [{"type": "body", "parameters": [{"type": "text", "text": flat[:1024]}]}]
    body = envelope(to, None)
    body.update(type="template", template=template)
    return body


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _param(p: TemplateParam) -> dict[str, Any]:
    """A header or body parameter; a NAMED template's carry their variable's `parameter_name`."""
    out = _typed(p)
    if p.name and p.kind not in MEDIA:
        out["parameter_name"] = p.name
    return out


def _typed(p: TemplateParam) -> dict[str, Any]:
    if p.kind in MEDIA:
        return {"type": p.kind.value, p.kind.value: {"link": p.value}}
    if p.kind is ParamKind.CURRENCY:
        found = _CURRENCY.match(p.value.strip())
        try:
            amount = int(Decimal(found.group(2)) * 1000) if found else None
        except InvalidOperation:
            amount = None
        if found is None or amount is None:
            raise DeliveryError(Reason.PLATFORM_REJECTED, detail="currency must read like EUR 12.50")
        currency = {"fallback_value": p.fallback or p.value, "code": found.group(1), "amount_1000": amount}
        return {"type": "currency", "currency": currency}
    if p.kind is ParamKind.DATE_TIME:
        return {"type": "date_time", "date_time": {"fallback_value": p.fallback or p.value}}
    if p.kind is ParamKind.PAYLOAD:
        return {"type": "payload", "payload": p.value}
    return {"type": "text", "text": p.value}


def _button_param(sub_type: str, p: TemplateParam) -> dict[str, Any]:
    if sub_type == "copy_code":
        return {"type": "coupon_code", "coupon_code": p.value}
    if sub_type == "quick_reply":
        return {"type": "payload", "payload": p.value}
    return {"type": "text", "text": p.value}


def template(t: Template) -> dict[str, Any]:
    """A template send's type and `template`: name, language, and a component per part with parameters."""
    components: list[dict[str, Any]] = []
    if t.header:
        components.append({"type": "header", "parameters": [_param(p) for p in t.header]})
    if t.body:
        components.append({"type": "body", "parameters": [_param(p) for p in t.body]})
    for b in t.buttons:
        params = [_button_param(b.sub_type, p) for p in b.params]
        components.append({"type": "button", "sub_type": b.sub_type, "index": str(b.index), "parameters": params})
    out: dict[str, Any] = {"name": t.name, "language": {"code": t.language}}
    if components:
        out["components"] = components
    return {"type": "template", "template": out}


def interactive(body: str, choices: Choices) -> dict[str, Any] | None:
    """The `interactive` object offering `choices` under `body`, or None when WhatsApp cannot show them so
    (several links, a body over 1024 characters): the caller then sends them numbered in the text."""
    items = choices.items
    if len(body) > MAX_BODY:
        return None
    if choices.style is ChoiceStyle.URL:
        if len(items) != 1 or not items[0].url:
            return None
        params = {"display_text": _cut(items[0].title, 20), "url": items[0].url}
        return {"type": "cta_url", "body": {"text": body}, "action": {"name": "cta_url", "parameters": params}}
    if choices.style is ChoiceStyle.BUTTONS:
        buttons = [{"type": "reply", "reply": {"id": c.id, "title": _cut(c.title, 20)}} for c in items]
        return {"type": "button", "body": {"text": body}, "action": {"buttons": buttons}}
    sections: dict[str, list[dict[str, Any]]] = {}
    for c in items:
        row = {"id": c.id, "title": _cut(c.title, 24)}
        if c.description:
            row["description"] = _cut(c.description, 72)
        sections.setdefault(c.section or "", []).append(row)
    listed: list[dict[str, Any]] = [
        ({"title": _cut(s, 24)} if s else {}) | {"rows": rows} for s, rows in sections.items()
    ]
    if len(listed) > 1 and any("title" not in s for s in listed):
        listed = [s if "title" in s else {"title": "More"} | s for s in listed]
    action = {"button": _cut(choices.button or "Options", 20), "sections": listed}
    return {"type": "list", "body": {"text": body}, "action": action}


def fallback(body: str, choices: Choices) -> str:
    """Choices WhatsApp cannot show as such, numbered after the text."""
    return f"{body}\n\n{numbered(choices)}" if body else numbered(choices)


def read(message_id: str, typing: bool) -> dict[str, Any]:
    """Mark a customer's message (and those before it) read; with `typing`, show the typing indicator too."""
    body: dict[str, Any] = {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}
    if typing:
        body["typing_indicator"] = {"type": "text"}
    return body


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def pick(kind: str, body: dict[str, Any]) -> Choice | None:
    """The option a customer tapped: a reply button or list row, or a template's quick-reply button."""
    if kind == "button":
        payload, title = _text(body.get("payload")), _text(body.get("text"))
        return Choice(payload or title or "", title or payload or "") if payload or title else None
    if kind != "interactive":
        return None
    reply = body.get(str(body.get("type", "")))
    if body.get("type") not in ("button_reply", "list_reply") or not isinstance(reply, dict):
        return None
    cid, title = _text(reply.get("id")), _text(reply.get("title"))
    if cid is None or title is None:
        return None
    return Choice(cid, title, _text(reply.get("description")))


def flow(kind: str, body: dict[str, Any]) -> Choice | None:
    """A completed flow (`nfm_reply`): its kind (`flow`, `address_message`), the line the customer saw
    ("Sent") and the form's answers as `name: value` lines (the description, which joins the text)."""
    reply = body.get("nfm_reply")
    if kind != "interactive" or body.get("type") != "nfm_reply" or not isinstance(reply, dict):
        return None
    name = _text(reply.get("name"))
    if name is None:
        return None
    return Choice(name, _text(reply.get("body")) or "Sent", "\n".join(answers(reply.get("response_json"))) or None)


def answers(raw: Any, limit: int = FLOW_FIELDS) -> list[str]:
    """The answers in a flow's `response_json`, one `name: value` line each (nested names joined with `.`,
    lists with `, `), without its `flow_token`; nothing when it is not a JSON object."""
    try:
        found = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return []
    if not isinstance(found, dict):
        return []
    found.pop("flow_token", None)
    lines: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if len(lines) >= limit:
            return
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
            return
        shown = ", ".join(map(_scalar, value)) if isinstance(value, list) else _scalar(value)
        lines.append(f"{' '.join(prefix.split())[:100]}: {' '.join(shown.split())[:1000]}")

    walk("", found.pop("values") if set(found) == {"values"} else found)
    return lines


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return (
        "" if value is None else json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
    )


def changed_number(body: dict[str, Any]) -> tuple[str, Party] | None:
    """A `user_changed_number` system message: the customer's new address (phone first, as for their
    messages) and who they now are; its `body`, which spells both numbers, is never read."""
    if body.get("type") not in ("user_changed_number", "customer_changed_number"):
        return None
    phone = _text(body.get("wa_id")) or _text(body.get("new_wa_id"))
    user_id = _text(body.get("user_id"))
    address = phone or user_id
    if address is None or not (address.isdigit() or BSUID.match(address)):
        return None
    return address, Party(id=user_id or address, phone=phone)


TEMPLATE_KEYS = ("name", "language", "status", "category", "parameter_format", "components")


def template_page(data: Any) -> tuple[list[dict[str, Any]] | None, str | None]:
    """One page of /message_templates: its templates (None when the answer has no `data` list) and the
    cursor of the next page, only while Graph names one (`paging.next` is absent on the last page)."""
    found = data.get("data") if isinstance(data, dict) else None
    if not isinstance(found, list):
        return None, None
    page = [{k: t[k] for k in TEMPLATE_KEYS if k in t} for t in found if isinstance(t, dict) and "name" in t]
    paging = obj(data.get("paging"))
    after = _text(obj(paging.get("cursors")).get("after")) if paging.get("next") and found else None
    return page, after
