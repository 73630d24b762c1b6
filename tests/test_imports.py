"""The import rules: no cycle anywhere, the core never imports a connector, connectors never each other."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("relay", "connectors")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str, modules: set[str]) -> set[str]:
    """Every project module a file imports, TYPE_CHECKING and function-level imports included;
    `from pkg import sub` counts as importing `pkg.sub` alone when `sub` is a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
    return {f for f in found if f in modules and f != name and not name.startswith(f + ".")}


def graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (a submodule's own packages left out: importing it
    runs their __init__ first, whatever the code says)."""
    files = {_module(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    modules = set(files)
    return {name: _imports(path, name, modules) for name, path in files.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _connector(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "connectors" and len(parts) > 1 else None


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_the_core_never_imports_a_connector() -> None:
    wrong = {m: sorted(i for i in deps if i.startswith("connectors")) for m, deps in graph().items()}
    assert {m: d for m, d in wrong.items() if m.startswith("relay") and d} == {}


def test_connectors_never_import_each_other() -> None:
    wrong = {}
    for module, deps in graph().items():
        own = _connector(module)
        other = sorted(d for d in deps if _connector(d) not in (None, own))
        if own and other:
            wrong[module] = other
    assert wrong == {}


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
