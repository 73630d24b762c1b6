"""Load: wrk runs (closed loop) and the measurements taken around them."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from typing import Any

from bench.procs import Proc
from bench.workload import memfd, wrk_lua

WRK = "/usr/bin/wrk"


def get_json(url: str, method: str = "GET") -> Any:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def wrk(
    url: str, connections: int, seconds: float, base: int, core: int | None, statuses: bool = False
) -> dict[str, Any]:
    """One wrk run; the parsed summary its Lua `done` printed."""
    fd, path = memfd("bench-wrk.lua", wrk_lua(base, statuses))
    try:
        cmd = [WRK, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "60s", "-s", path, url]
        if core is not None:
            cmd = ["/usr/bin/taskset", "-c", str(core), *cmd]
        out = subprocess.run(cmd, capture_output=True, text=True, pass_fds=(fd,), timeout=seconds + 120)
    finally:
        os.close(fd)
    for line in out.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            result: dict[str, Any] = json.loads(line[len("BENCHJSON ") :])
            return result
    raise RuntimeError(f"wrk failed (exit {out.returncode}): {out.stderr.strip()[-500:]}")


def measured_run(
    target: Proc, url: str, sink: str, connections: int, seconds: float, base: int, core: int | None
) -> dict[str, Any]:
    """wrk against `target`, with its CPU seconds, RSS and the sink's count of delivered posts."""
    before_sink = get_json(f"{sink}/control/stats")["received"]
    cpu0 = target.cpu()
    res = wrk(url, connections, seconds, base, core)
    cpu1 = target.cpu()
    rss = target.rss_kib()
    time.sleep(0.3)
    delivered = get_json(f"{sink}/control/stats")["received"] - before_sink
    seconds_run = res["duration_us"] / 1e6
    ok = res["requests"] - res["non2xx"]
    errors = res["connect"] + res["read"] + res["write"] + res["timeout"]
    return {
        "connections": connections,
        "requests": res["requests"],
        "msgs_per_s": ok / seconds_run,
        "p50_ms": res["p50_us"] / 1000,
        "p99_ms": res["p99_us"] / 1000,
        "max_ms": res["max_us"] / 1000,
        "cpu_us_per_msg": (cpu1 - cpu0) / max(1, ok) * 1e6,
        "cpu_share": (cpu1 - cpu0) / seconds_run,
        "rss_mib": rss / 1024,
        "non2xx": res["non2xx"],
        "socket_errors": errors,
        "delivered": delivered,
        "lost": max(0, ok - delivered),
    }
