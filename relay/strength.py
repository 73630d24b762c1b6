"""Secrets that guard access must be long, varied and not placeholder text; config models use `Strong`."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Annotated

from pydantic import AfterValidator

from relay.secret import Secret

MIN_LENGTH = 16
MIN_BITS = 32.0
HOW = "generate one with `openssl rand -base64 32`"
HOW_HEX = "generate one with `openssl rand -hex 32`"
# Lower-case fragments of the text people leave in templates and examples.
PLACEHOLDERS = (
    "replace-with",
    "replace_with",
    "replaceme",
    "changeme",
    "change-me",
    "change_me",
    "changeit",
    "example",
    "placeholder",
    "your-",
    "your_",
    "<your",
    "insert-",
)
_FILLER = re.compile(r"x{6,}|\*{6,}|\.{6,}")


def estimated_bits(value: str) -> float:
    """Length times the Shannon entropy of the characters used: a crude guess, low for repetitive text."""
    counts = Counter(value)
    n = len(value)
    return -sum(c * math.log2(c / n) for c in counts.values())


def placeholder(value: str) -> str | None:
    """The template text `value` contains ("changeme", "xxxxxx", ...), or None."""
    lowered = value.lower()
    found = next((p for p in PLACEHOLDERS if p in lowered), None)
    filler = _FILLER.search(lowered)
    return found or (filler.group(0) if filler else None)


def weakness(value: str, min_length: int = MIN_LENGTH) -> str | None:
    """Why `value` is too weak to guard access, or None; never repeats the value."""
    found = placeholder(value)
    if found is not None:
        return f'looks like placeholder text (contains "{found}")'
    if len(value) < min_length:
        return f"is {len(value)} characters; at least {min_length} are needed"
    if estimated_bits(value) < MIN_BITS:
        return "is too repetitive to be a random secret"
    return None


def check(value: Secret, how: str = HOW, min_length: int = MIN_LENGTH) -> Secret:
    """`value` unchanged, or ValueError naming the problem and how to make a good one."""
    problem = weakness(value.reveal(), min_length)
    if problem is not None:
        raise ValueError(f"too weak: {problem}; {how}")
    return value


def _strong(value: Secret) -> Secret:
    return check(value)


def _strong_hex(value: Secret) -> Secret:
    return check(value, HOW_HEX)


def not_placeholder(value: Secret) -> Secret:
    """`value` unchanged unless it is template text (for keys whose length has another rule)."""
    text = value.reveal()
    found = placeholder(text)
    if found is not None:
        raise ValueError(f'too weak: looks like placeholder text (contains "{found}"); {HOW}')
    if len(set(text)) == 1:
        raise ValueError(f"too weak: one character repeated; {HOW}")
    return value


Strong = Annotated[Secret, AfterValidator(_strong)]
"""A Secret that guards access: at least 16 characters, varied, no placeholder text."""
StrongHex = Annotated[Secret, AfterValidator(_strong_hex)]
"""Like `Strong`, with the hint for platforms that allow only letters, digits, _ and - (e.g. Telegram)."""
