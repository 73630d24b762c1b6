"""Connector discovery through the `relay.connectors` entry-point group."""

from __future__ import annotations

import difflib
from importlib.metadata import entry_points

from relay.connector import Manifest

GROUP = "relay.connectors"


def available() -> list[str]:
    """Names of every installed connector type."""
    return sorted(ep.name for ep in entry_points(group=GROUP))


def did_you_mean(word: str, choices: list[str]) -> str:
    """A ' (did you mean 'x'?)' hint, or ''."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def load(type_name: str) -> Manifest:
    """Import only the named connector; KeyError with a hint if it is not installed."""
    found = [ep for ep in entry_points(group=GROUP) if ep.name == type_name]
    if not found:
        names = available()
        raise KeyError(
            f"unknown connector type '{type_name}'{did_you_mean(type_name, names)}; installed: {', '.join(names)}"
        )
    manifest = found[0].load()
    if not isinstance(manifest, Manifest):
        raise KeyError(f"entry point '{type_name}' does not point at a connector Manifest")
    return manifest
