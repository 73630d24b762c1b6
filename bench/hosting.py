"""Memory per workspace under `relay host` (PSS from smaps_rollup), time to ready, and idle RSS."""

from __future__ import annotations

import compileall
import os
import shutil
import signal
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.procs import Proc, free_port

MIB = 1024.0
READY_POLL = 0.002
UNREADABLE = "smaps_rollup of the relay's processes is not readable (they are not dumpable); run as root"
SHM = "/dev/shm" if os.path.isdir("/dev/shm") else None
SOURCES = Path(__file__).resolve().parent.parent


def byte_compile() -> None:
    """Compile the relay's packages as installing them does; with PYTHONDONTWRITEBYTECODE set and an
    editable install, each start would otherwise compile ~75 source files (~16 % of its instructions)."""
    for package in ("relay", "connectors"):
        compileall.compile_dir(SOURCES / package, quiet=1)


def smaps_kib(pid: int, key: str) -> int:
    """A kB field of /proc/<pid>/smaps_rollup (Pss, Rss, Private_Dirty...)."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def children(pid: int) -> list[int]:
    """The direct children of a process (Linux: /proc/<pid>/task/<pid>/children)."""
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def ready(url: str, timeout: float = 30.0, alive: Callable[[], bool] = lambda: True) -> float:
    """Poll a URL every 2 ms until it answers 200; the monotonic time it first did."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and alive():
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return time.monotonic()
        except OSError:
            pass
        time.sleep(READY_POLL)
    raise RuntimeError(f"{url} not ready within {timeout} s")


def run_ready(relay: str, toml: Callable[[int], str], core: int | None, reps: int) -> dict[str, Any]:
    """`relay run` from exec to /readyz answering 200, `reps` times; the median and the RSS one second later."""
    times, rss = [], []
    byte_compile()
    with tempfile.TemporaryDirectory(prefix="bench-ready-", dir=SHM) as tmp:
        for i in range(reps):
            port = free_port()
            path = Path(tmp) / f"ready-{i}.toml"
            path.write_text(toml(port))
            started = time.monotonic()
            proc = Proc("relay-ready", [relay, "run", "--config", str(path)], core)
            try:
                times.append(ready(f"http://127.0.0.1:{port}/readyz", alive=proc.alive) - started)
                time.sleep(1.0)
                rss.append(proc.rss_kib() / MIB)
            finally:
                proc.stop()
    times.sort()
    return {"seconds": times[len(times) // 2], "all_seconds": times, "idle_rss_mib": sorted(rss)[len(rss) // 2]}


def host_memory(relay: str, toml: Callable[[int, str], str], counts: list[int], core: int | None) -> dict[str, Any]:
    """For each N: N workspaces under one `relay host`; summed PSS of the parent and children, PSS / N,
    and the time from a config's arrival (with SIGHUP) to its /readyz for one more workspace."""
    rows = []
    for n in counts:
        tmp = Path(tempfile.mkdtemp(prefix="bench-host-", dir=SHM))
        proc: Proc | None = None
        try:
            ports = [free_port() for _ in range(n)]
            for i, port in enumerate(ports):
                (tmp / f"ws{i:02d}.toml").write_text(toml(port, f"ws{i:02d}"))
            started = time.monotonic()
            proc = Proc("relay-host", [relay, "host", "--workspaces", str(tmp)], core)
            for port in ports:
                ready(f"http://127.0.0.1:{port}/readyz", 120, proc.alive)
            all_ready = time.monotonic() - started
            time.sleep(1.5)
            kids = children(proc.pid)
            if len(kids) != n:
                raise RuntimeError(f"relay host runs {len(kids)} children for {n} workspaces")
            try:
                child_pss = [smaps_kib(k, "Pss") / MIB for k in kids]
            except PermissionError:
                return {"skipped": UNREADABLE}
            parent_pss = smaps_kib(proc.pid, "Pss") / MIB
            child_rss = [smaps_kib(k, "Rss") / MIB for k in kids]
            one_more = _one_more(tmp, proc, toml)
            total = parent_pss + sum(child_pss)
            rows.append(
                {
                    "n": n,
                    "pss_total_mib": total,
                    "pss_per_workspace_mib": total / n,
                    "parent_pss_mib": parent_pss,
                    "child_pss_mib": sorted(child_pss)[len(child_pss) // 2],
                    "child_rss_mib": sorted(child_rss)[len(child_rss) // 2],
                    "all_ready_s": all_ready,
                    "added_ready_s": one_more,
                }
            )
        finally:
            if proc is not None:
                proc.stop(30)
            shutil.rmtree(tmp, ignore_errors=True)
    first, last = rows[0], rows[-1]
    extra = (last["pss_total_mib"] - first["pss_total_mib"]) / max(1, last["n"] - first["n"])
    return {"rows": rows, "pss_per_additional_mib": extra}


def _one_more(directory: Path, proc: Proc, toml: Callable[[int, str], str]) -> float:
    """Seconds from a new config's rename into the directory, with SIGHUP, to its workspace's /readyz."""
    port = free_port()
    staged = directory / ".extra.toml.tmp"
    staged.write_text(toml(port, "extra"))
    started = time.monotonic()
    staged.rename(directory / "extra.toml")
    os.kill(proc.pid, signal.SIGHUP)
    seconds = ready(f"http://127.0.0.1:{port}/readyz", 60, proc.alive) - started
    (directory / "extra.toml").unlink()
    os.kill(proc.pid, signal.SIGHUP)
    return seconds


def lines(res: dict[str, Any]) -> list[str]:
    """The memory and start-up figures of one run as Markdown."""
    if "startup" not in res:
        return []
    host, run = res["host_memory"], res["startup"]
    if host.get("skipped"):
        return ["", f"relay host memory phase skipped: {host['skipped']}."]
    out = [
        "",
        f"Start-up (Telegram + webhook, `relay run`, median of {len(run['all_seconds'])}): ready in "
        f"{run['seconds']:.2f} s, idle RSS {run['idle_rss_mib']:.1f} MiB.",
        "",
        "| workspaces under `relay host` | PSS total MiB | PSS / workspace MiB | parent PSS MiB | a child's PSS MiB | "
        "a child's RSS MiB | all ready s | one more ready s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    out += [
        f"| {r['n']} | {r['pss_total_mib']:.1f} | {r['pss_per_workspace_mib']:.1f} | {r['parent_pss_mib']:.1f} | "
        f"{r['child_pss_mib']:.1f} | {r['child_rss_mib']:.1f} | {r['all_ready_s']:.2f} | {r['added_ready_s']:.2f} |"
        for r in host["rows"]
    ]
    out += ["", f"Per additional workspace: {host['pss_per_additional_mib']:.1f} MiB PSS."]
    return out


def targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    """The memory and start-up targets of issue 25."""
    if "startup" not in res or res["host_memory"].get("skipped"):
        return []
    extra = res["host_memory"]["pss_per_additional_mib"]
    run = res["startup"]
    added = res["host_memory"]["rows"][-1]["added_ready_s"]
    return [
        _row("PSS per additional workspace (relay host)", "<= 20 MiB", extra, ".1f", extra <= 20),
        _row("idle RSS, Telegram + webhook", "<= 50 MiB", run["idle_rss_mib"], ".1f", run["idle_rss_mib"] <= 50),
        _row("ready, relay run (s)", "<= 0.3 s", run["seconds"], ".2f", run["seconds"] <= 0.3),
        _row("ready, a workspace added to relay host (s)", "<= 0.3 s", added, ".2f", added <= 0.3),
    ]


def _row(name: str, goal: str, value: float, fmt: str, met: bool) -> dict[str, Any]:
    return {"target": name, "goal": goal, "measured": format(value, fmt), "met": met}
