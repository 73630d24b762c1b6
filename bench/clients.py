"""`python -m bench.clients`: instructions per POST for the HTTP clients the relay could post to a CRM with.

Each client runs in its own process on uvloop under callgrind and posts the relay's ~700-byte signed
JSON body to the sink's bare CRM endpoint, 16 at a time over keep-alive connections; counting is on
for exactly N posts after a warm-up (threads included: a Rust client's runtime threads count too).
Also prints posts per second outside callgrind, 16 at a time, for a feel of the wall-clock cost.
Needs valgrind. Clients that are not installed are skipped with a line saying so.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable

from bench.instructions import _total
from bench.procs import PYTHON, Proc, free_port

CLIENTS = ("aiohttp", "aiosonic", "pyreqwest", "rnet", "wire")
MODULE = {"aiohttp": "aiohttp", "aiosonic": "aiosonic", "pyreqwest": "pyreqwest", "rnet": "rnet", "wire": "httptools"}
BODY = b'{"type":"message","id":"' + b"x" * 640 + b'"}'
HEADERS = {"Content-Type": "application/json", "X-Relay-Signature": "t=1,v1=" + "a" * 64, "X-Relay-Event-Id": "e" * 32}
WARMUP = 200

Post = Callable[[], Awaitable[int]]


async def _client(name: str, url: str) -> tuple[Post, Callable[[], Awaitable[None]]]:
    """A function that makes one POST and returns its status, and one that closes the client."""
    if name == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1088))
        timeout = aiohttp.ClientTimeout(total=10)

        async def post_aiohttp() -> int:
            async with session.post(url, data=BODY, headers=HEADERS, timeout=timeout) as resp:
                await resp.read()
                return resp.status

        return post_aiohttp, session.close
    if name == "aiosonic":
        import aiosonic

        sonic = aiosonic.HTTPClient()

        async def post_aiosonic() -> int:
            resp = await sonic.post(url, data=BODY, headers=HEADERS)
            await resp.content()
            return int(resp.status_code)

        async def close_aiosonic() -> None:
            await sonic.connector.cleanup()

        return post_aiosonic, close_aiosonic
    if name == "pyreqwest":
        from pyreqwest.client import ClientBuilder

        reqwest = ClientBuilder().max_connections(1088).build()

        async def post_reqwest() -> int:
            resp = await reqwest.post(url).headers(HEADERS).body_bytes(BODY).build().send()
            await resp.bytes()
            return int(resp.status)

        return post_reqwest, reqwest.close
    if name == "rnet":
        import rnet

        rclient = rnet.Client()

        async def post_rnet() -> int:
            resp = await rclient.post(url, body=BODY, headers=HEADERS)
            await resp.bytes()
            return int(resp.status)

        async def close_rnet() -> None:
            return None

        return post_rnet, close_rnet
    from relay.wirepool import Target, WireClient

    wire = WireClient(1088)
    target = wire.route(url)
    assert isinstance(target, Target)

    async def post_wire() -> int:
        status, _, _ = await wire.request("POST", target, HEADERS, BODY, 10.0, idempotent=True)
        return status

    return post_wire, wire.close


async def _run(post: Post, count: int, concurrency: int = 16) -> int:
    left = iter(range(count))
    bad = 0

    async def worker() -> None:
        nonlocal bad
        for _ in left:
            bad += await post() != 200

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return bad


async def child(name: str, url: str, count: int) -> None:
    """Warm up, say so, wait for a line on stdin, make `count` posts, say so, wait again."""
    post, close = await _client(name, url)
    await _run(post, WARMUP)
    print("warm", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    started = time.perf_counter()
    bad = await _run(post, count)
    print(f"done {bad} {count / (time.perf_counter() - started):.0f}", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    await close()


def measure(name: str, crm_port: int, count: int, workdir: str, callgrind: bool) -> tuple[float, int]:
    """(instructions per post, or posts per second without callgrind; failed posts)."""
    prefix = os.path.join(workdir, name)
    grind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={prefix}.%p"]
    argv = [*(grind if callgrind else []), PYTHON, "-m", "bench.clients", "--child", name]
    argv += ["--url", f"http://127.0.0.1:{crm_port}/crm", "--posts", str(count)]
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL if callgrind else None, text=True
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        if proc.stdout.readline().strip() != "warm":
            raise RuntimeError(f"{name} did not warm up")
        if callgrind:
            subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
        proc.stdin.write("\n")
        proc.stdin.flush()
        _, bad, rate = proc.stdout.readline().split()
        if callgrind:
            subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=60)
        return (_total(prefix) / count if callgrind else float(rate)), int(bad)
    finally:
        if proc.poll() is None:
            proc.kill()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.clients", description=__doc__.splitlines()[0])
    p.add_argument("--posts", type=int, default=2000)
    p.add_argument("--only", choices=CLIENTS, action="append")
    p.add_argument("--child", choices=CLIENTS, help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        import uvloop

        uvloop.run(child(args.child, args.url, args.posts))
        return 0
    if shutil.which("callgrind_control") is None:
        print("valgrind is not installed: apt-get install valgrind", file=sys.stderr)
        return 2
    sink_port, crm_port = free_port(), free_port()
    sink = Proc("sink", [PYTHON, "-m", "bench.sink", str(sink_port), str(crm_port)], None)
    failed = 0
    try:
        sink.wait_http(f"http://127.0.0.1:{sink_port}/control/stats")
        with tempfile.TemporaryDirectory(prefix="relay-clients-") as workdir:
            for name in args.only or CLIENTS:
                if importlib.util.find_spec(MODULE[name]) is None:
                    print(f"{name:10} not installed, skipped")
                    continue
                per_post, bad = measure(name, crm_port, args.posts, workdir, callgrind=True)
                rate, bad_timed = measure(name, crm_port, args.posts * 5, workdir, callgrind=False)
                failed += bad + bad_timed
                print(f"{name:10} {per_post / 1000:8.1f} k instructions/post  {rate:8.0f} posts/s  ({bad} failed)")
    finally:
        sink.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
