"""Renders the subset of Helm's template language the chart uses (values, if/else/end, eq, not, quote,
toJson, toYaml, nindent, whitespace trimming), so the chart is checked without the helm binary."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


def _lookup(path: str, scope: dict[str, Any]) -> Any:
    node: Any = scope
    for part in path.strip(".").split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _term(text: str, scope: dict[str, Any]) -> Any:
    words = text.split()
    if words[0] == "not":
        return not _term(" ".join(words[1:]), scope)
    if words[0] == "eq":
        return _term(words[1], scope) == _term(words[2], scope)
    if words[0] == "toYaml":
        return yaml.safe_dump(_term(words[1], scope), sort_keys=False).rstrip("\n")
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("."):
        return _lookup(text, scope)
    raise ValueError(f"unsupported template term: {text}")


def _expr(text: str, scope: dict[str, Any]) -> Any:
    first, *filters = [p.strip() for p in text.split("|")]
    value = _term(first, scope)
    for f in filters:
        name, *args = f.split()
        if name == "quote":
            value = json.dumps(str(value))
        elif name == "toJson":
            value = json.dumps(value)
        elif name == "nindent":
            pad = " " * int(args[0])
            value = "\n" + "\n".join(pad + line if line else line for line in str(value).splitlines())
        else:
            raise ValueError(f"unsupported template function: {name}")
    return value


def render_text(template: str, scope: dict[str, Any]) -> str:
    """One template rendered against {"Values": ..., "Release": ...}."""
    out: list[str] = []
    stack: list[tuple[bool, bool]] = []  # (parent emits, this branch taken)
    pos, trim_next = 0, False
    for m in _ACTION.finditer(template):
        text = template[pos : m.start()]
        if trim_next:
            text = text.lstrip()
        if m.group(1):
            text = text.rstrip()
        emitting = all(taken for _, taken in stack)
        if emitting:
            out.append(text)
        action = m.group(2)
        if action.startswith("if "):
            stack.append((emitting, bool(_expr(action[3:], scope)) if emitting else False))
        elif action == "else":
            parent, taken = stack.pop()
            stack.append((parent, parent and not taken))
        elif action == "end":
            stack.pop()
        elif emitting:
            out.append(str(_expr(action, scope)))
        pos, trim_next = m.end(), bool(m.group(3))
    assert not stack, "unclosed if"
    rest = template[pos:]
    out.append(rest.lstrip() if trim_next else rest)
    return "".join(out)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


def render_chart(chart: Path, overrides: dict[str, Any] | None = None, release: str = "relay") -> list[dict[str, Any]]:
    """Every object the chart renders with values.yaml plus `overrides`."""
    values = _merge(yaml.safe_load((chart / "values.yaml").read_text()), overrides or {})
    scope = {"Values": values, "Release": {"Name": release}}
    docs: list[dict[str, Any]] = []
    for template in sorted((chart / "templates").glob("*.yaml")):
        text = render_text(template.read_text(), scope)
        docs += [d for d in yaml.safe_load_all(text) if d]
    return docs
