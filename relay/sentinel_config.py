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
