"""JSON for the hot path: orjson, with the standard library for what orjson refuses."""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(raw: bytes | str) -> Any:
    """Parse JSON; ValueError if it is not JSON. What orjson refuses (lone surrogates, NaN, nesting
    past 1024) goes to the standard library; integers beyond 64 bits come out as floats."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON. What orjson refuses (lone surrogates, integers beyond 64 bits, non-str keys)
    the standard library writes with non-ASCII escaped, so the result is always valid UTF-8. orjson's
    result is copied to its exact size: as returned it pins a 4 KiB buffer, which adds up for every
    body held while its POST is in flight."""
    try:
        return bytes(memoryview(orjson.dumps(value)))
    except TypeError:
        return json.dumps(value, separators=(",", ":")).encode()
