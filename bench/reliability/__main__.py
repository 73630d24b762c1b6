"""`python -m bench.reliability [--quick]`: run the fault suite and the proofs, write docs/reliability.md."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from bench.reliability.faults import FAULTS, FULL, QUICK, Row, Sizes
from bench.reliability.redis_faults import REDIS_FAULTS
from bench.reliability.relays import redis_available
from bench.reliability.report import ROOT, render, run_suite

ALL = {**FAULTS, **REDIS_FAULTS}


async def run_all(sizes: Sizes, only: list[str]) -> list[Row]:
    """Run the faults one after the other, the shared-Redis ones last."""
    return [await ALL[name](sizes) for name in (only or ALL)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small counts (CI); prints the report unless --out")
    p.add_argument("--out", type=Path, help="where to write the report (default: docs/reliability.md in full mode)")
    p.add_argument("--faults", nargs="*", choices=sorted(ALL), default=[], help="run only these faults")
    p.add_argument("--no-tests", action="store_true", help="skip the hostile-input and at-rest pytest runs")
    args = p.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    started = time.monotonic()
    rows = asyncio.run(run_all(sizes, args.faults))
    for row in rows:
        print(
            f"{'ok  ' if row.ok else 'FAIL'} {row.fault}: sent {row.sent}, once {row.once}, "
            f"twice {row.duplicated} ({row.dup_after_event_id} by event id), lost {row.lost}",
            file=sys.stderr,
        )
    suites = [] if args.no_tests else [run_suite("security"), run_suite("privacy")]
    for suite in suites:
        print(f"{'ok  ' if suite.passed else 'FAIL'} tests/{suite.folder}: {suite.summary}", file=sys.stderr)
    text = render(rows, sizes, suites, redis_available(), time.monotonic() - started)
    out = args.out or (None if args.quick else ROOT / "docs" / "reliability.md")
    if out is None:
        print(text)
    else:
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    return 0 if all(r.ok for r in rows) and all(s.passed for s in suites) else 1


if __name__ == "__main__":
    raise SystemExit(main())
