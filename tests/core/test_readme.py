"""The README's commands work in the order a new admin types them, from a fresh clone."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text()


def commands() -> list[str]:
    """The README's shell lines (indented blocks), comments dropped, in order."""
    found = []
    for line in README.splitlines():
        if line.startswith("    ") and line.strip():
            found.append(line.split("  #", 1)[0].strip())
    return found


def test_relay_is_on_path_or_called_from_the_venv_before_it_is_used() -> None:
    active = False
    for line in commands():
        if ". .venv/bin/activate" in line or "source .venv/bin/activate" in line:
            active = True
        for part in re.split(r"&&|;|\|", line):
            words = shlex.split(part)
            if words and words[0] == "relay":
                assert active, f"`{line}` runs relay before the README says how it gets on PATH"


def test_relay_toml_exists_before_it_is_used() -> None:
    made = False
    for line in commands():
        if re.search(r"\bcp config/relay\.example\.toml relay\.toml\b", line):
            made = True
        elif re.search(r"(?<![\w/.])relay\.toml\b", line):
            assert made, f"`{line}` uses relay.toml before the README creates it"
    assert (ROOT / "config" / "relay.example.toml").is_file()


def test_the_test_command_says_it_runs_the_short_benchmark() -> None:
    head = README.split("./scripts/test", 1)[0].rstrip().rsplit("\n\n", 1)[-1]
    assert "benchmark" in head and "short" in head, head
    assert "-m bench --quick" in (ROOT / "scripts" / "test").read_text()
