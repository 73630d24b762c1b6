"""`python -m bench.instructions`: machine instructions per relayed message, relay and baselines.

CPU seconds per message move by 10-15 % between runs on a shared machine; instructions counted by
valgrind's callgrind do not (the same code, input and environment give the same count). Each target
runs under callgrind with counting off; after a warm-up, counting is switched on for exactly N
messages (closed loop, 16 at a time) and the total is divided by N. The ratio relay/baseline tracks
the CPU ratio of the full benchmark and is what to compare before and after a hot-path change;
relay/baseline-fast compares against the same forwarder on uvloop with orjson.
Needs valgrind (Debian package `valgrind`); about half a minute per target.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.procs import PYTHON, Proc, free_port
from bench.workload import HOOK_PATH, SECRET_HEADER, SECRET_TOKEN, memfd, relay_toml, update

RELAY = str(Path(PYTHON).parent / "relay")
WARMUP = 300
TARGETS = ("baseline", "baseline-fast", "relay")


async def drive(port: int, first_id: int, count: int, concurrency: int = 16) -> int:
    """Send `count` unique updates, `concurrency` at a time; return how many were not answered 200."""
    url = f"http://127.0.0.1:{port}{HOOK_PATH}"
    headers = {SECRET_HEADER: SECRET_TOKEN, "Content-Type": "application/json"}
    ids = iter(range(first_id, first_id + count))
    failed = 0
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            nonlocal failed
            for n in ids:
                async with session.post(url, data=update(n), headers=headers) as resp:
                    await resp.read()
                    failed += resp.status != 200

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failed


def _total(prefix: str) -> int:
    """The instruction total of the last callgrind dump written under `prefix`."""
    totals = []
    for path in glob.glob(prefix + ".*"):
        with open(path, errors="replace") as f:
            totals += [int(line.split()[1]) for line in f if line.startswith(("summary:", "totals:"))]
    if not totals:
        raise RuntimeError("callgrind wrote no counts")
    return max(totals)


def measure(target: str, messages: int, workdir: str, tracing: float | None = None) -> dict[str, float]:
    """Instructions per message for one of TARGETS, each against its own fresh sink; with `tracing` (a sample
    ratio) the relay exports its sampled spans over OTLP/HTTP to the sink."""
    sink_port, crm_port, port = free_port(), free_port(), free_port()
    sink = Proc("sink", [PYTHON, "-m", "bench.sink", str(sink_port), str(crm_port)], None)
    procs, fds = [sink], []
    prefix = os.path.join(workdir, target)
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={prefix}.%p"]
    try:
        sink.wait_http(f"http://127.0.0.1:{sink_port}/control/stats")
        if target == "relay":
            toml = relay_toml(port, sink_port, crm_port, 4096, "info")
            if tracing is not None:
                toml += f'\n[tracing]\nendpoint = "http://127.0.0.1:{sink_port}"\nsample_ratio = {tracing}\n'
            fd, path = memfd("relay.toml", toml)
            fds.append(fd)
            proc = Proc("relay", [*valgrind, PYTHON, RELAY, "run", "--config", path], None, (fd,))
            ready = f"http://127.0.0.1:{port}/readyz"
        else:
            crm = f"http://127.0.0.1:{crm_port}/crm"
            fast = ["--fast"] if target == "baseline-fast" else []
            argv = [*valgrind, PYTHON, "-m", "bench.baseline", str(port), crm, SECRET_TOKEN, *fast]
            proc = Proc(target, argv, None)
            ready = f"http://127.0.0.1:{port}/healthz"
        procs.append(proc)
        proc.wait_http(ready, timeout=180)
        failed = asyncio.run(drive(port, 10**12, WARMUP))
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
        started = time.monotonic()
        failed += asyncio.run(drive(port, 2 * 10**12, messages))
        seconds = time.monotonic() - started
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
        return {"instructions_per_msg": _total(prefix) / messages, "failed": failed, "seconds": seconds}
    finally:
        for p in reversed(procs):
            p.stop()
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.instructions",
        description="Instructions per relayed message under callgrind, relay and baseline.",
    )
    p.add_argument("--messages", type=int, default=1000, help="messages counted per target (default 1000)")
    p.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    p.add_argument("--only", choices=TARGETS, help="count one target only (e.g. the relay while changing it)")
    p.add_argument(
        "--tracing", nargs="?", const=1.0, type=float, metavar="RATIO", help="the relay with [tracing] on (ratio 1)"
    )
    p.add_argument("--keep", type=Path, help="keep the callgrind files in this directory (for callgrind_annotate)")
    args = p.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed: apt-get install valgrind", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="relay-callgrind-") as workdir:
        res = {t: measure(t, args.messages, workdir, args.tracing) for t in TARGETS if args.only in (None, t)}
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for path in glob.glob(os.path.join(workdir, "*")):
                shutil.copy(path, args.keep)
    for name, r in res.items():
        print(f"{name:13} {r['instructions_per_msg'] / 1000:8.1f} k instructions/message  ({r['failed']} failed)")
    ratios = {}
    if "relay" in res:
        for base in ("baseline", "baseline-fast"):
            if base in res:
                ratios[base] = res["relay"]["instructions_per_msg"] / res[base]["instructions_per_msg"]
                print(f"relay / {base:13} {ratios[base]:6.2f}")
    if args.out:
        args.out.write_text(json.dumps({**res, "ratios": ratios, "messages": args.messages}, indent=2) + "\n")
    return 1 if any(r["failed"] for r in res.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
