"""Scans for content at rest: logs, recent /tmp files, Redis keys and values, process limits; and the counters."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

STATS: Counter[str] = Counter()
CONNECTORS: set[str] = set()
STATS_ENV = "RELAY_RELIABILITY_STATS"


def phone_of(canary: str) -> str:
    """A phone number unique to the canary."""
    return f"+49 151 {int(canary[-8:], 16) % 10**8:08d}"


def secrets_of(canary: str) -> list[str]:
    """The strings that must never be found at rest for one canary."""
    phone = phone_of(canary)
    return [canary, canary.lower(), phone, phone[-8:], email_of(canary)]


def email_of(canary: str) -> str:
    return f"{canary.lower()}@example.org"


def hits(text: str, needles: Iterable[str]) -> list[str]:
    return [n for n in needles if n in text]


def scan_logs(text: str, needles: Iterable[str]) -> list[str]:
    STATS["log_lines"] += text.count("\n") + 1
    found = hits(text, needles)
    STATS["log_hits"] += len(found)
    return found


def recent_files(since: float, exclude: Iterable[Path] = ()) -> list[Path]:
    """Files changed since `since` under the temp roots; `exclude` names folders that are a peer's own
    storage (a mail server's mailboxes), not the relay's."""
    roots = {os.environ.get("TMPDIR", "/tmp"), "/tmp", "/var/tmp"}
    skip = tuple(Path(p) for p in exclude)
    found = []
    for root in (Path(p) for p in roots if Path(p).is_dir()):
        for folder, _, names in os.walk(root):  # tolerates folders other processes remove meanwhile
            if any(Path(folder).is_relative_to(s) for s in skip):
                continue
            for name in names:
                path = Path(folder) / name
                try:
                    if path.is_file() and path.stat().st_mtime >= since and path.stat().st_size < 5 << 20:
                        found.append(path)
                except OSError:
                    continue
    return found


def scan_files(since: float, needles: Iterable[str], exclude: Iterable[Path] = ()) -> list[str]:
    wanted = [n.encode() for n in needles]
    found = []
    for path in recent_files(since, exclude):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        found += [f"{path}: {n!r}" for n in wanted if n in data]
    STATS["tmp_hits"] += len(found)
    return found


def scan_redis(prefix: str, needles: Iterable[str]) -> tuple[int, list[str]]:
    """(keys under `prefix`, needles found in any key or value)."""
    import redis

    client: Any = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    wanted = [n.encode() for n in needles]
    found: list[str] = []
    keys = 0
    try:
        for key in client.scan_iter(match=prefix + "*", count=500):
            keys += 1
            values = [key, *_values(client, key)]
            found += [f"{key!r} has {n!r}" for n in wanted for v in values if n in v]
    finally:
        client.close()
    STATS["redis_keys"] += keys
    STATS["redis_hits"] += len(found)
    return keys, found


def _values(client: Any, key: bytes) -> list[bytes]:
    """Every value stored under a key, whatever its Redis type."""
    kind = client.type(key).decode()
    if kind == "string":
        return [client.get(key) or b""]
    if kind == "hash":
        return [x for pair in client.hgetall(key).items() for x in pair]
    if kind == "list":
        return list(client.lrange(key, 0, -1))
    if kind == "set":
        return list(client.smembers(key))
    if kind == "zset":
        return [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
    return [kind.encode()]


def core_limit(pid: int) -> tuple[str, str]:
    """(soft, hard) "Max core file size" of a process, from /proc/<pid>/limits."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            parts = line.split()
            return parts[4], parts[5]
    raise KeyError("Max core file size")


def dump_stats() -> None:
    path = os.environ.get(STATS_ENV)
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(dict(STATS) | {"connectors": sorted(CONNECTORS), "at": time.time()}, f)
