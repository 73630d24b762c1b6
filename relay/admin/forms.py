"""Connector forms generated from each config model's JSON schema: fields, HTML, and submitted values back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from pydantic import BaseModel, ValidationError

from relay.config_checks import resolve, suggest_name

SKIP = ("type",)


@dataclass(frozen=True, slots=True)
class Field:
    """One form field: its key, widget kind and what the schema says about it."""

    key: str
    kind: str  # text, number, integer, bool, enum, secret, lines, pairs, json, fixed
    title: str
    required: bool
    default: Any
    choices: tuple[str, ...] = ()
    help: str = ""
    hidden_secret: bool = False


def _plain(prop: Mapping[str, Any]) -> Mapping[str, Any]:
    """The non-null alternative of an optional property."""
    options = [p for p in prop.get("anyOf", ()) if p.get("type") != "null"]
    return options[0] if len(options) == 1 else prop


def _has_secret(node: Any) -> bool:
    if isinstance(node, dict):
        return node.get("writeOnly") is True or any(_has_secret(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_secret(v) for v in node)
    return False


def fields_of(model: type[BaseModel]) -> list[Field]:
    """The form fields of a connector config model, from its JSON schema (no per-connector code)."""
    schema = model.model_json_schema(mode="validation")
    defs = schema.get("$defs", {})
    required = set(schema.get("required", ()))
    out = []
    for key, prop in schema.get("properties", {}).items():
        if key in SKIP:
            continue
        plain = _plain(prop)
        kind, choices = "json", tuple[str, ...]()
        kind_of = plain.get("type")
        if plain.get("writeOnly"):
            kind = "secret"
        elif "enum" in plain:
            kind, choices = "enum", tuple(str(c) for c in plain["enum"])
        elif kind_of in ("string", "number", "integer"):
            kind = "text" if kind_of == "string" else kind_of
        elif kind_of == "boolean":
            kind = "bool"
        elif kind_of == "array" and plain.get("items", {}).get("type") == "string":
            kind = "lines"
        elif kind_of == "object" and plain.get("additionalProperties", {}).get("type") == "string":
            kind = "pairs"
        hidden = kind == "json" and _has_secret([prop, *(defs[r.rsplit("/", 1)[1]] for r in _refs(prop))])
        help_text = str(prop.get("description") or plain.get("description") or "")
        if kind == "lines":
            help_text = (help_text + " One per line.").strip()
        elif kind == "pairs":
            help_text = (help_text + " One `key = value` per line.").strip()
        elif kind == "json":
            help_text = (help_text + " JSON.").strip()
        title = str(prop.get("title") or key)
        out.append(Field(key, kind, title, key in required, prop.get("default"), choices, help_text, hidden))
    return out


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def secret_name(instance: str, key: str) -> str:
    """The secrets-file name the console stores a connector's secret under."""
    return suggest_name(f"{instance}_{key}")


def _convert(f: Field, text: str) -> Any:
    if f.kind == "integer":
        try:
            return int(text)
        except ValueError:
            return text
    if f.kind == "number":
        try:
            return float(text)
        except ValueError:
            return text
    if f.kind == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()]
    if f.kind == "pairs":
        pairs = [line.split("=", 1) for line in text.splitlines() if line.strip()]
        return {k.strip(): v.strip() for k, v in (p if len(p) == 2 else (p[0], "") for p in pairs)}
    if f.kind == "json":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def read_form(
    fields: list[Field], form: Mapping[str, str], old: Mapping[str, Any], instance: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The connector's new config table and the secret values to store: blank secrets keep what was set,
    blank optional fields drop the key (the default applies), values equal to the default are not written."""
    body: dict[str, Any] = {k: v for k, v in old.items() if k in SKIP or k not in {f.key for f in fields}}
    secrets: dict[str, str] = {}
    for f in fields:
        if f.hidden_secret:
            if f.key in old:
                body[f.key] = old[f.key]
            continue
        if f.kind == "bool":
            value: Any = f.key in form
            if value != f.default or f.key in old:
                body[f.key] = value
            continue
        text = form.get(f.key, "")
        if f.kind == "secret":
            if text:
                name = secret_name(instance, f.key)
                secrets[name] = text
                body[f.key] = f"${{{name}}}"
            elif f.key in old:
                body[f.key] = old[f.key]
            continue
        text = text.strip() if f.kind not in ("lines", "pairs", "json") else text
        if not text.strip():
            continue
        value = _convert(f, text)
        if value != f.default or f.key in old:
            body[f.key] = value
    return body, secrets


def field_errors(model: type[BaseModel], body: Mapping[str, Any], lookup: Mapping[str, str]) -> dict[str, str]:
    """Pydantic's message for each field that does not validate ("" for the whole form); never a value."""
    resolved = resolve(dict(body), "", lookup, [])
    try:
        model.model_validate(resolved)
    except ValidationError as exc:
        out: dict[str, str] = {}
        for err in exc.errors(include_input=False, include_url=False):
            key = str(err["loc"][0]) if err["loc"] else ""
            out.setdefault(key, str(err["msg"]))
        return out
    return {}


def shown(f: Field, body: Mapping[str, Any]) -> str:
    """A field's current value as form text (never for secrets)."""
    value = body.get(f.key, f.default)
    if f.kind in ("secret",) or f.hidden_secret or value is None:
        return ""
    if f.kind == "lines":
        return "\n".join(str(v) for v in value) if isinstance(value, list) else str(value)
    if f.kind == "pairs":
        return "\n".join(f"{k} = {v}" for k, v in value.items()) if isinstance(value, dict) else str(value)
    if f.kind == "json":
        return json.dumps(value)
    return str(value)


def render_field(f: Field, body: Mapping[str, Any], error: str | None) -> str:
    """One labelled field, its help and its error (announced to screen readers)."""
    fid = f"f-{f.key}"
    described = [f"{fid}-help"] if f.help else []
    if error:
        described.append(f"{fid}-err")
    aria = f' aria-describedby="{" ".join(described)}"' if described else ""
    aria += ' aria-invalid="true"' if error else ""
    req = " required" if f.required and f.kind not in ("secret", "bool") else ""
    value = escape(shown(f, body))
    name = escape(f.key)
    label = escape(f.title) + (" (required)" if f.required else "")
    if f.kind == "bool":
        checked = " checked" if body.get(f.key, f.default) else ""
        control = f'<input type="checkbox" id="{fid}" name="{name}"{checked}{aria}>'
        head = f'<div class="field check">{control} <label for="{fid}">{label}</label>'
    else:
        if f.kind == "enum":
            current = str(body.get(f.key, f.default) or "")
            opts = "" if f.required else '<option value="">(default)</option>'
            opts += "".join(
                f'<option value="{escape(c)}"{" selected" if c == current else ""}>{escape(c)}</option>'
                for c in f.choices
            )
            control = f'<select id="{fid}" name="{name}"{aria}>{opts}</select>'
        elif f.kind == "secret":
            state = "set" if f.key in body else "not set"
            label += f' <span class="state">({state})</span>'
            hint = "leave blank to keep" if f.key in body else "write-only"
            control = (
                f'<input type="password" id="{fid}" name="{name}" autocomplete="new-password" '
                f'placeholder="{hint}"{aria}>'
            )
        elif f.hidden_secret:
            state = "set" if f.key in body else "not set"
            control = f'<p id="{fid}">{state}: holds a secret, so it is edited in the configuration file</p>'
        elif f.kind in ("lines", "pairs", "json"):
            control = f'<textarea id="{fid}" name="{name}" rows="3"{req}{aria}>{value}</textarea>'
        else:
            mode = ' inputmode="decimal"' if f.kind in ("number", "integer") else ""
            control = f'<input type="text" id="{fid}" name="{name}" value="{value}"{mode}{req}{aria}>'
        head = f'<div class="field"><label for="{fid}">{label}</label>{control}'
    help_html = f'<p class="help" id="{fid}-help">{escape(f.help)}</p>' if f.help else ""
    err_html = f'<p class="error" id="{fid}-err">{escape(error)}</p>' if error else ""
    return f"{head}{help_html}{err_html}</div>"
