"""The benchmark's short mode (run by the test command) judges nothing, says so in one line, leaves no files."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

import bench.__main__ as bench_main

RESULTS = Path(__file__).parents[2] / "docs" / "benchmarks.json"


class FakeBench:
    """Stands in for the processes: one run's results, as a short run gives them."""

    def __init__(self, args: Any) -> None:
        self.args = args

    def run(self) -> dict[str, Any]:
        res: dict[str, Any] = json.loads(RESULTS.read_text())
        res.update(mode="quick", reps=1, seconds=1)
        res.pop("targets", None)
        res.pop("problems", None)
        res["inflight"]["baseline"]["bytes_per_msg"] = 0.0
        return res

    def close(self) -> None:
        return None


def test_short_mode_judges_nothing_says_so_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    monkeypatch.setattr(bench_main, "DOCS", docs)
    monkeypatch.setattr(bench_main, "Bench", FakeBench)
    monkeypatch.chdir(tmp_path)
    before = set(Path(tempfile.gettempdir()).iterdir())
    assert bench_main.main(["--quick"]) == 0
    out = capsys.readouterr()
    text = out.out + out.err
    assert "**no**" not in text and "| met |" not in text and "0 B" not in text
    lines = [line for line in out.out.splitlines() if line.strip()]
    assert len(lines) == 1 and "short mode" in lines[0] and "judges no figure" in lines[0], lines
    assert list(docs.iterdir()) == [] and [p.name for p in tmp_path.iterdir()] == ["docs"]
    assert set(Path(tempfile.gettempdir()).iterdir()) == before


def test_the_test_command_asks_for_no_output_directory() -> None:
    script = (Path(__file__).parents[2] / "scripts" / "test").read_text()
    line = next(x for x in script.splitlines() if "-m bench --quick" in x)
    assert "--out" not in line and "mktemp" not in line
