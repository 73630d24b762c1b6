"""The fault suite in quick mode: the same code `python -m bench.reliability` runs, with small counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.reliability.__main__ import main
from bench.reliability.faults import FAULTS, QUICK, Row, tally

pytestmark = pytest.mark.timeout(90)


def test_tally_counts_once_twice_and_lost() -> None:
    got = [("a", "e1"), ("b", "e2"), ("b", "e2"), ("c", "e3"), ("c", "e4")]
    assert tally(["a", "b", "c", "d"], got) == (1, 2, 1, 1)
    assert tally(["x"], [("x", ""), ("x", "")]) == (0, 1, 1, 0)


@pytest.mark.parametrize("name", sorted(FAULTS))
async def test_fault_loses_nothing_and_duplicates_nothing(name: str) -> None:
    row: Row = await FAULTS[name](QUICK)
    assert row.sent == QUICK.messages
    assert row.lost == 0, row
    assert row.dup_after_event_id == 0, row
    assert row.once + row.duplicated == row.sent


def test_command_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "reliability.md"
    assert main(["--quick", "--faults", "crm_500", "--no-tests", "--out", str(out)]) == 0
    text = out.read_text()
    assert "| CRM answers 500 for 1.5 s | messenger -> CRM | 1 | 12 | 12 | 0 | 0 | 0 |" in text
    assert "python -m bench.reliability" in text
