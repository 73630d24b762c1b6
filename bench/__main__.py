"""`python -m bench [--quick] [--out DIR]`: the relay against a bare aiohttp forwarder and a Node-RED flow."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import hosting, memory, peer, report
from bench.client import open_loop
from bench.load import measured_run, wrk
from bench.procs import PYTHON, Proc, free_port
from bench.workload import BODY_BYTES, HOOK_PATH, SECRET_TOKEN, memfd, relay_toml

DOCS = Path(__file__).resolve().parent.parent / "docs"
RELAY = str(Path(PYTHON).parent / "relay")
TELEGRAM_DEADLINE = 50.0


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="CI mode: a few seconds per phase, timing not judged")
    p.add_argument("--out", type=Path, help="where benchmarks.json/.png go (default: docs/; with --quick: nowhere)")
    p.add_argument("--reps", type=int, help="repetitions per point (default 3, quick 1)")
    p.add_argument("--seconds", type=int, help="seconds per wrk run (default 10, quick 1)")
    p.add_argument("--concurrency", default="16,64,256", help="comma-separated wrk connection counts")
    p.add_argument("--inflight", type=int, help="messages held in flight for the memory figure (default 500)")
    p.add_argument("--overload-seconds", type=float, help="open-loop overload duration (default 10, quick 2)")
    p.add_argument("--log-level", default="info", help="the relay's logging.level (its stderr is discarded)")
    p.add_argument("--workspaces", help="workspace counts for the relay host memory phase (default 1,4,16; quick 1,2)")
    p.add_argument("--no-peer", action="store_true", help="leave out the Node-RED peer")
    args = p.parse_args(argv)
    args.reps = args.reps or (1 if args.quick else 3)
    args.seconds = args.seconds or (1 if args.quick else 10)
    args.inflight = args.inflight or (200 if args.quick else 500)
    args.overload_seconds = args.overload_seconds or (2.0 if args.quick else 10.0)
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.workspaces = [int(n) for n in (args.workspaces or ("1,2" if args.quick else "1,4,16")).split(",")]
    return args


class Bench:
    """The processes of one run and the order of its phases."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        cores = sorted(os.sched_getaffinity(0))
        self.target_core: int | None = cores[0] if len(cores) > 1 else None
        self.load_core: int | None = cores[1] if len(cores) > 1 else None
        if self.load_core is not None:
            os.sched_setaffinity(0, {self.load_core})
        self.procs: list[Proc] = []
        self.fds: list[int] = []
        self.cleanups: list[Callable[[], None]] = []
        self.sink_port, self.crm_port = free_port(), free_port()
        self.sink = f"http://127.0.0.1:{self.sink_port}"
        self.next_base = 10**12

    def base(self) -> int:
        self.next_base += 10**11
        return self.next_base

    def start(self, name: str, argv: list[str], core: int | None, ready: str, fds: tuple[int, ...] = ()) -> Proc:
        proc = Proc(name, argv, core, fds)
        self.procs.append(proc)
        proc.wait_http(ready)
        return proc

    def start_baseline(self, fast: bool) -> tuple[Proc, int]:
        port = free_port()
        argv = [PYTHON, "-m", "bench.baseline", str(port), f"http://127.0.0.1:{self.crm_port}/crm", SECRET_TOKEN]
        name = "baseline_fast" if fast else "baseline"
        url = f"http://127.0.0.1:{port}/healthz"
        return self.start(name, [*argv, "--fast"] if fast else argv, self.target_core, url), port

    def start_relay(self, max_inflight: int) -> tuple[Proc, int]:
        port = free_port()
        fd, path = memfd(
            "relay.toml", relay_toml(port, self.sink_port, self.crm_port, max_inflight, self.args.log_level)
        )
        self.fds.append(fd)
        argv = [RELAY, "run", "--config", path]
        return self.start("relay", argv, self.target_core, f"http://127.0.0.1:{port}/readyz", (fd,)), port

    def stop(self, proc: Proc) -> None:
        proc.stop()
        self.procs.remove(proc)

    def close(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                proc.stop()
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        for cleanup in self.cleanups:
            cleanup()

    def workspace_toml(self, port: int, workspace: str = "bench") -> str:
        toml = relay_toml(port, self.sink_port, self.crm_port, 4096, self.args.log_level)
        return toml.replace('id = "bench"', f'id = "{workspace}"')

    def run(self) -> dict[str, Any]:
        a = self.args
        res: dict[str, Any] = {
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "mode": "quick" if a.quick else "full",
            "reps": a.reps,
            "seconds": a.seconds,
            "concurrency": a.concurrency,
            "body_bytes": BODY_BYTES,
            "cores": {"target": self.target_core, "load_sink_driver": self.load_core},
            "loadavg_before": os.getloadavg()[0],
            "python": sys.version.split()[0],
        }
        self.start(
            "sink",
            [PYTHON, "-m", "bench.sink", str(self.sink_port), str(self.crm_port)],
            self.load_core,
            f"{self.sink}/control/stats",
        )
        baseline, bport = self.start_baseline(fast=False)
        fast, fport = self.start_baseline(fast=True)
        relay, rport = self.start_relay(max(4096, 2 * a.inflight))
        time.sleep(1.0)
        res["idle_rss_mib"] = {"relay": relay.rss_kib() / 1024, "baseline": baseline.rss_kib() / 1024}
        targets = {"baseline": (baseline, bport), "baseline_fast": (fast, fport), "relay": (relay, rport)}
        nodered = self.start_peer()
        if nodered is not None:
            targets["nodered"] = nodered
            res["nodered"] = {"skipped": None}
        elif not a.no_peer:
            res["nodered"] = {"skipped": self.peer_skipped}
        say("warm-up")
        for _proc, port in targets.values():
            wrk(f"http://127.0.0.1:{port}{HOOK_PATH}", 64, 1 if a.quick else 2, self.base(), self.load_core)
        runs = []
        for rep in range(a.reps):
            for c in a.concurrency:
                for name, (proc, port) in targets.items():
                    url = f"http://127.0.0.1:{port}{HOOK_PATH}"
                    run = measured_run(proc, url, self.sink, c, a.seconds, self.base(), self.load_core)
                    run.update(target=name, rep=rep)
                    runs.append(run)
                    say(
                        f"{name:13} c={c:<4} {run['msgs_per_s']:8.0f} msg/s  p99 {run['p99_ms']:7.1f} ms  "
                        f"{run['cpu_us_per_msg']:6.0f} µs CPU/msg  non-2xx {run['non2xx']}  lost {run['lost']}"
                    )
        res["runs"] = runs
        res["summary"] = report.summarise(runs, a.concurrency)
        self.stop(relay)
        self.stop(baseline)
        self.stop(fast)
        if nodered is not None:
            self.stop(nodered[0])
        say("memory per in-flight message (fresh processes)")
        relay, rport = self.start_relay(max(4096, 2 * a.inflight))
        baseline, bport = self.start_baseline(fast=False)
        res["inflight"] = {
            "relay": asyncio.run(
                memory.inflight(relay, rport, self.sink, memory.relay_inflight(rport), a.inflight, self.base())
            ),
            "baseline": asyncio.run(
                memory.inflight(baseline, bport, self.sink, memory.baseline_inflight(bport), a.inflight, self.base())
            ),
        }
        say("20 MB attachment")
        res["attachment"] = asyncio.run(memory.attachment(relay, rport, self.sink, self.base()))
        self.stop(relay)
        self.stop(baseline)
        say("overload")
        res["overload"] = self.overload(res["summary"])
        say("start-up: relay run, Telegram + webhook")
        res["startup"] = hosting.run_ready(RELAY, self.workspace_toml, self.target_core, 1 if a.quick else 5)
        say(f"memory per workspace under relay host, N = {a.workspaces}")
        res["host_memory"] = hosting.host_memory(RELAY, self.workspace_toml, a.workspaces, self.target_core)
        if res["host_memory"].get("skipped"):
            say(f"relay host memory phase skipped: {res['host_memory']['skipped']}")
        res["loadavg_after"] = os.getloadavg()[0]
        if not a.quick:
            res["targets"] = report.targets(res)
        return res

    def start_peer(self) -> tuple[Proc, int] | None:
        """The Node-RED flow on the target core, or None (the reason in `peer_skipped`, said once)."""
        self.peer_skipped = "left out (--no-peer)"
        if self.args.no_peer:
            return None
        port = free_port()
        proc, why = peer.start(self, self.target_core, f"http://127.0.0.1:{self.crm_port}/crm", port)
        if proc is None:
            self.peer_skipped = why or "unavailable"
            say(f"Node-RED peer skipped: {self.peer_skipped}")
            return None
        return proc, port

    def overload(self, summary: dict[str, Any]) -> dict[str, Any]:
        """A fresh relay with the default max_inflight, offered twice its measured capacity, open loop."""
        max_inflight = 128 if self.args.quick else 1024
        relay, port = self.start_relay(max_inflight)
        capacity = max(row["relay"]["msgs_per_s"] for row in summary.values())
        rate = 2 * capacity
        result = asyncio.run(
            open_loop(port, rate, self.args.overload_seconds, 2 * max_inflight, self.base(), TELEGRAM_DEADLINE)
        )
        result.update(
            capacity_per_s=capacity,
            max_inflight=max_inflight,
            deadline_s=TELEGRAM_DEADLINE,
            rss_mib=relay.rss_kib() / 1024,
        )
        self.stop(relay)
        return result


def problems(res: dict[str, Any]) -> list[str]:
    """Errors and lost messages: what fails the run in any mode (timing never does)."""
    found = []
    for run in res["runs"]:
        if run["target"] == "nodered":
            if run["lost"] or run["non2xx"] or run["socket_errors"]:
                say(f"note: Node-RED c={run['connections']}: {run['non2xx']} non-2xx, {run['lost']} lost (not judged)")
            continue
        where = f"{run['target']} c={run['connections']} rep {run['rep']}"
        if run["lost"]:
            found.append(f"{where}: {run['lost']} messages answered 200 but never reached the sink")
        if run["non2xx"] or run["socket_errors"]:
            found.append(f"{where}: {run['non2xx']} non-2xx answers, {run['socket_errors']} socket errors")
    for name, inf in res["inflight"].items():
        if inf["failed"]:
            found.append(f"in-flight phase ({name}): {inf['failed']} requests not answered 200")
    med = res["attachment"]
    if med["webhook_status"] != 200 or med["fetched_bytes"] != med["file_bytes"]:
        found.append(
            f"attachment: webhook {med['webhook_status']}, fetched {med['fetched_bytes']} of {med['file_bytes']}"
        )
    ov = res["overload"]
    others = {k: v for k, v in ov["statuses"].items() if k not in ("200", "503")}
    if others or ov["unanswered"] or ov["shed_without_retry_after"]:
        found.append(
            f"overload: statuses {ov['statuses']}, unanswered {ov['unanswered']}, "
            f"503 without Retry-After {ov['shed_without_retry_after']}"
        )
    return found


def say(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    out = args.out or DOCS
    bench = Bench(args)
    try:
        res = bench.run()
    finally:
        bench.close()
    found = problems(res)
    res["problems"] = found
    if args.quick:
        return short_report(res, args.out, found)
    docs_md = DOCS / "benchmarks.md" if out.resolve() == DOCS.resolve() else None
    report.write(res, out, docs_md)
    print(report.markdown(res))
    for p in found:
        say(f"PROBLEM: {p}")
    say(f"results in {out / 'benchmarks.json'} and {out / 'benchmarks.png'}")
    return 1 if found else 0


def short_report(res: dict[str, Any], out: Path | None, found: list[str]) -> int:
    """Short mode judges no figure: it says that every phase ran, and writes files only when asked to."""
    if out is not None:
        report.write(res, out, None)
        say(f"results in {out / 'benchmarks.json'} and {out / 'benchmarks.png'}")
    for p in found:
        say(f"PROBLEM: {p}")
    verdict = f"{len(found)} problem(s) above" if found else "no errors, nothing lost"
    print(
        f"Benchmark short mode: every phase ran ({len(res['runs'])} timed runs, {verdict}); a few seconds per phase "
        "on a shared machine judges no figure, so none is shown (`python -m bench` measures and judges the targets)."
    )
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
