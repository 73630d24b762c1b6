"""Scans for content at rest: logs, recent files wherever a relay could write, Redis, process limits; counters."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.support import at_rest

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


def scan_spans(spans: Iterable[str], needles: Iterable[str]) -> list[str]:
    """Needles found in exported spans, each given as its full text (names, attributes, resource)."""
    found: list[str] = []
    for text in spans:
        STATS["spans"] += 1
        found += hits(text, needles)
    STATS["span_hits"] += len(found)
    return found


def recent_files(since: float, exclude: Iterable[Path] = ()) -> list[Path]:
    """Files changed since `since` wherever the relay could write one; `exclude` names folders that are a
    peer's own storage (a mail server's mailboxes), not the relay's."""
    return at_rest.recent_files(since, exclude=exclude)


def scan_files(since: float, needles: Iterable[str], exclude: Iterable[Path] = ()) -> list[str]:
    found = at_rest.files_holding(since, [n.encode() for n in needles], exclude)
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
