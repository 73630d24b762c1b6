"""The Sentinel settings of `state`, checked without importing a Redis client."""

from __future__ import annotations

from collections.abc import Sequence


def parse_sentinel(text: str) -> tuple[str, int]:
    """`host:port` (or `[v6]:port`) as a pair; ValueError when it is not one."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not host:port")
    return host, int(port)


def sentinel_settings_problem(sentinels: Sequence[str], service_name: str | None, has_url: bool) -> str | None:
    """Why the Sentinel settings of `state` do not fit together, or None."""
    if not sentinels:
        return None
    if has_url:
        return 'url and sentinels exclude each other; keep url for one Redis, or sentinels = ["host:26379", ...]'
    if not service_name:
        return 'sentinels need service_name = "<the name in sentinel monitor>"'
    for entry in sentinels:
        try:
            parse_sentinel(entry)
        except ValueError as exc:
            return f"sentinels: {exc}; write each as host:port"
    return None


def cluster_settings_problem(cluster: Sequence[str], has_url: bool, has_sentinels: bool, db: int) -> str | None:
    """Why the Redis Cluster settings of `state` do not fit together, or None."""
    if not cluster:
        return None
    if has_url or has_sentinels:
        return 'cluster excludes url and sentinels; keep one of them (cluster = ["host:7000", ...] for a Redis Cluster)'
    if db:
        return "a Redis Cluster has database 0 only; remove db"
    for entry in cluster:
        try:
            parse_sentinel(entry)
        except ValueError as exc:
            return f"cluster: {exc}; write each node as host:port"
    return None
