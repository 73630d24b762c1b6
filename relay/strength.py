"""Secrets that guard access must be long, varied and not placeholder text; config models use `Strong`."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from relay.secret import Secret
from relay.weak import HOW, HOW_HEX, MIN_LENGTH, placeholder, weakness

__all__ = ["HOW", "HOW_HEX", "MIN_LENGTH", "Strong", "StrongHex", "check", "not_placeholder", "weakness"]


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
