"""What the fake Bot API checks of entities: UTF-16 ranges, types, nesting, as Telegram refuses them."""

from __future__ import annotations

import itertools
from typing import Any

_KNOWN_ENTITIES = {"bold", "italic", "strikethrough", "underline", "spoiler", "code", "pre", "text_link"}
_NO_NESTING = {"code", "pre"}


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _boundaries(text: str) -> set[int]:
    out, pos = {0}, 0
    for ch in text:
        pos += utf16(ch)
        out.add(pos)
    return out


def validate_entities(text: str, entities: list[dict[str, Any]]) -> str | None:
    """Why Telegram would refuse these entities ("can't parse entities"), or None if it would accept them."""
    size, cuts = utf16(text), _boundaries(text)
    ranges = []
    for e in entities:
        off, length, kind = e.get("offset"), e.get("length"), e.get("type")
        if kind not in _KNOWN_ENTITIES:
            return f"unknown entity type {kind}"
        if not isinstance(off, int) or not isinstance(length, int) or off < 0 or length <= 0 or off + length > size:
            return "entity out of range"
        if off not in cuts or off + length not in cuts:
            return "entity splits a surrogate pair"
        if kind == "text_link" and not str(e.get("url", "")).startswith(("http://", "https://", "tg://")):
            return "bad text_link url"
        ranges.append((off, off + length, kind))
    for (a1, b1, k1), (a2, b2, k2) in itertools.combinations(ranges, 2):
        if b1 <= a2 or b2 <= a1:
            continue
        if not ((a1 <= a2 and b2 <= b1) or (a2 <= a1 and b1 <= b2)):
            return "entities intersect partially"
        if k1 in _NO_NESTING or k2 in _NO_NESTING:
            return "code/pre cannot be nested with other entities"
    return None
