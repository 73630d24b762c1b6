"""The config's cross-checks: ${NAME} references, routes against connectors, and echoes of problems already said."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from relay import registry
from relay.connector import ConnectorKind, Manifest


class RouteConfig(Protocol):
    """A [[routes]] entry as these checks read it."""

    @property
    def from_(self) -> list[str]: ...

    @property
    def to(self) -> str: ...


class Instance(Protocol):
    """A configured connector as these checks read it."""

    @property
    def manifest(self) -> Manifest: ...


NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REF = re.compile(r"\$\{([^}]*)(\}?)")
_INDEX = re.compile(r"\[(\d+)\]")


def valid_name(name: str) -> bool:
    """True for a name a ${NAME} reference can hold: letters, digits and '_', not starting with a digit."""
    return bool(NAME.match(name))


def suggest_name(name: str) -> str:
    """A valid reference name close to `name`: upper case, other characters as '_'."""
    fixed = re.sub(r"[^A-Za-z0-9_]", "_", name).upper() or "SECRET"
    return f"_{fixed}" if fixed[0].isdigit() else fixed


def name_problem(name: str) -> str | None:
    """Why `name` cannot be referenced as ${NAME}, with the name to use instead; None when it can."""
    if valid_name(name):
        return None
    return (
        f"'{name}' cannot be referenced as ${{{name}}}: a name holds only letters, digits and '_' and does not "
        f"start with a digit; use {suggest_name(name)} instead"
    )


def _substitute(text: str, path: str, lookup: Mapping[str, str], problems: list[str]) -> str:
    out, end = [], 0
    for m in _REF.finditer(text):
        out.append(text[end : m.start()])
        end = m.end()
        name, closed = m.group(1), m.group(2)
        if not closed:
            problems.append(f"{path}: ${{ has no closing '}}'; write a reference as ${{NAME}}")
        elif not valid_name(name):
            good = suggest_name(name)
            problems.append(
                f"{path}: ${{{name}}} is not a valid reference (names hold only letters, digits and '_' and do not "
                f"start with a digit), so it would be taken as literal text; write ${{{good}}} and export {good} or "
                f"run `relay secrets set {good}`"
            )
        elif name in os.environ or name in lookup:
            value = os.environ[name] if name in os.environ else lookup[name]
            if not value:
                problems.append(
                    f"{path}: ${{{name}}} is set but empty; give {name} a value (export it or run "
                    f"`relay secrets set {name}`)"
                )
            out.append(value)
        else:
            problems.append(f"{path}: ${{{name}}} is not set; export {name} or run `relay secrets set {name}`")
    out.append(text[end:])
    return "".join(out)


def resolve(node: Any, path: str, lookup: Mapping[str, str], problems: list[str]) -> Any:
    """`node` with every ${NAME} replaced from the environment or the secrets file; a reference that is
    malformed, unset or empty is a problem (and stands for empty text)."""
    if isinstance(node, dict):
        return {k: resolve(v, f"{path}.{k}" if path else k, lookup, problems) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, f"{path}[{i}]", lookup, problems) for i, v in enumerate(node)]
    if isinstance(node, str) and "${" in node:
        return _substitute(node, path, lookup, problems)
    return node


def _is_reference_problem(problem: str) -> bool:
    return problem.partition(": ")[2].startswith("${")


def without_echoes(problems: list[str]) -> list[str]:
    """Drop validation errors caused by a reference reported already (its value was empty)."""
    unset = {_INDEX.sub(r".\1", p.partition(": ")[0]) for p in problems if _is_reference_problem(p)}

    def echo(problem: str) -> bool:
        path = _INDEX.sub(r".\1", problem.partition(": ")[0])
        return not _is_reference_problem(problem) and any(u == path or u.startswith(path + ".") for u in unset)

    return [p for p in problems if not echo(p)]


def routes_of(raw: Mapping[str, Any], model: type[BaseModel]) -> list[RouteConfig] | None:
    """The well-formed [[routes]] of a config that failed validation elsewhere (the rest are reported
    already); None when there are no connectors to check them against."""
    if not isinstance(raw.get("connectors"), dict):
        return None
    found: list[Any] = []
    bodies = raw.get("routes")
    for body in bodies if isinstance(bodies, list) else []:
        try:
            found.append(model.model_validate(body))
        except ValidationError:
            continue
    return found


def check_routes(names: Sequence[str], routes: Sequence[RouteConfig], instances: Mapping[str, Instance]) -> list[str]:
    """Routes naming connectors that do not exist or of the wrong kind, messengers routed twice or not at all."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    known = list(names)
    for i, route in enumerate(routes):
        dest = instances.get(route.to)
        if route.to not in names:
            problems.append(f"routes[{i}].to: no connector named '{route.to}'{registry.did_you_mean(route.to, known)}")
        elif dest is not None and dest.manifest.kind is not ConnectorKind.CRM:
            problems.append(f"routes[{i}].to: '{route.to}' is a messenger; routes go to a CRM connector")
        for name in route.from_:
            src = instances.get(name)
            if name not in names:
                problems.append(f"routes[{i}].from: no connector named '{name}'{registry.did_you_mean(name, known)}")
            elif src is not None and src.manifest.kind is not ConnectorKind.MESSENGER:
                problems.append(f"routes[{i}].from: '{name}' is a CRM; routes come from messenger connectors")
            if name in seen:
                problems.append(
                    f"routes[{i}].from: '{name}' is already routed by routes[{seen[name]}]; a messenger goes to one CRM"
                )
            seen[name] = i
    for name, inst in instances.items():
        if inst.manifest.kind is ConnectorKind.MESSENGER and name not in seen:
            problems.append(f"connectors.{name}: messenger has no route; add it to a [[routes]] from list")
    return problems


def unrouted(routes: Sequence[RouteConfig], instances: Mapping[str, Instance]) -> list[str]:
    """Warnings for CRM connectors no route goes to: they run but nothing reaches them."""
    used = {r.to for r in routes}
    return [
        f"connectors.{name}: no route goes to this CRM, so no message reaches it; name it in a [[routes]] "
        f'to = "{name}", or remove the section'
        for name, inst in instances.items()
        if inst.manifest.kind is ConnectorKind.CRM and name not in used
    ]
