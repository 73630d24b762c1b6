"""Config validation errors in words: what a key expects, with an example, never the library's wording."""

from __future__ import annotations

import re
from typing import Any

_TOML_TYPE = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "list": "a list",
    "dict": "a table",
    "NoneType": "nothing",
}

# Patterns whose meaning a character class does not tell, each with what it asks for and an example.
_KNOWN = {
    r"^v[0-9]{2}\.0$": 'a version like "v21.0"',
    r"^[a-z]{2,3}(_[A-Z]{2})?$": 'a language code like "en" or "en_US"',
    r"^P[0-9]{1,3}D$": 'a number of days written like "P90D"',
    r"^/oauth/[a-z0-9-]+/token$": 'a path like "/oauth/2026-03/token"',
    r"^/[A-Za-z0-9 _/-]{0,100}$": 'a folder path starting with "/" like "/relay" (letters, digits, space, _ - /)',
    r"^[0-9a-fA-F-]{32,36}$": 'a UUID like "123e4567-e89b-42d3-a456-426614174000"',
    r"^[a-z0-9][a-z0-9-]{0,62}$": 'a subdomain like "acme" (lowercase letters, digits and -, up to 63)',
    r"^AC[0-9a-fA-F]{32}$": 'a Twilio Account SID like "AC0123456789abcdef0123456789abcdef" ("AC" and 32 hex digits)',
    r"^MG[0-9a-fA-F]{32}$": 'a Messaging Service SID like "MG0123456789abcdef0123456789abcdef" ("MG", 32 hex digits)',
    r"^SK[0-9a-fA-F]{32}$": 'a Twilio API key SID like "SK0123456789abcdef0123456789abcdef" ("SK" and 32 hex digits)',
    r"^[a-z][a-z0-9_]{0,31}$": 'a name like "order_id" (lowercase letters, digits and _, starting with a letter)',
    r"^\+?[0-9A-Za-z ]{1,20}$": 'a number like "+15550001111" or a sender name (up to 20 letters, digits, spaces)',
    r"^https://[^\s?#]+$": 'an https:// URL without a query, like "https://relay.example.com/hooks/m365"',
    r"^\$?[A-Za-z0-9_]{1,64}$": 'an IMAP keyword like "$RelayDone" (letters, digits and _, may start with $)',
    r"^\+[1-9][0-9]{6,14}$": 'a phone number in E.164 form like "+15550001111"',
    r"^[^@\s<>\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$": 'an e-mail address like "support@example.com"',
}
_CLASS = re.compile(r"^\^\[([^\]]+)\](\+|\*|\{(\d+)(?:,(\d+))?\})\$$")
_PARTS = (("A-Z", "upper-case letters"), ("a-z", "lower-case letters"), ("0-9", "digits"))


def _chars(cls: str) -> tuple[list[str], str]:
    """The words for a character class and a sample drawn from it."""
    words, sample = [], ""
    if "A-Z" in cls and "a-z" in cls:
        words.append("letters")
        sample += "abc"
        cls = cls.replace("A-Z", "").replace("a-z", "")
    if "A-Fa-f" in cls or cls == "0-9A-Fa-f":
        return ["hexadecimal digits (0-9, a-f)"], "0f3a"
    for part, word in _PARTS:
        if part in cls:
            words.append(word)
            sample += {"A-Z": "ABC", "a-z": "abc", "0-9": "123"}[part]
            cls = cls.replace(part, "")
    others = [c for c in cls.replace("\\", "") if c.strip()]
    words += [f"'{c}'" for c in others]
    if " " in cls:
        words.append("spaces")
    return words, sample or "x"


def describe_pattern(pattern: str) -> str:
    """What a value matching `pattern` looks like, in words, with an example."""
    if pattern in _KNOWN:
        return f"must be {_KNOWN[pattern]}"
    if pattern.startswith("^https?://"):
        return 'must be a URL starting with https:// (or http://), like "https://api.example.com"'
    match = _CLASS.match(pattern)
    if match:
        cls, _count, low, high = match.groups()
        words, sample = _chars(cls)
        size = ""
        if low is not None:
            size = f", {low} characters" if high is None else f", {low} to {high} characters"
        length = int(low) if low is not None and high is None else max(int(low or 1), min(6, int(high or 6)))
        example = (sample * length)[:length]
        return f'may hold only {", ".join(words)}{size}, like "{example}"'
    return f"does not have the expected form (the pattern {pattern})"


def _quoted(expected: str) -> str:
    return expected.replace("'", '"')


def describe(err: Any) -> str:
    """One pydantic error as what the key expects, with an example; custom validators keep their words."""
    kind, ctx = err["type"], err.get("ctx") or {}
    given = _TOML_TYPE.get(type(err.get("input")).__name__, type(err.get("input")).__name__)
    simple = {
        "string_type": f'must be text in quotes, like "example" (not {given})',
        "int_type": f"must be a whole number, like 30 (not {given})",
        "int_parsing": f"must be a whole number, like 30 (not {given})",
        "int_from_float": "must be a whole number, like 30 (no fraction)",
        "float_type": f"must be a number, like 2.5 (not {given})",
        "float_parsing": f"must be a number, like 2.5 (not {given})",
        "bool_type": f"must be true or false, without quotes (not {given})",
        "bool_parsing": f"must be true or false, without quotes (not {given})",
        "list_type": f'must be a list, like ["a", "b"] (not {given})',
    }
    if kind in simple:
        return simple[kind]
    if kind == "string_pattern_mismatch":
        return describe_pattern(str(ctx.get("pattern", "")))
    if kind == "literal_error":
        return f"must be one of {_quoted(str(ctx.get('expected', '')))}"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"must be {words} {ctx.get(key)}"
    if kind in ("string_too_short", "string_too_long"):
        words = "at least" if kind == "string_too_short" else "at most"
        n = ctx.get("min_length", ctx.get("max_length"))
        return f"must be {words} {n} character{'s' if n != 1 else ''} long"
    if kind in ("too_short", "too_long"):
        words = "at least" if kind == "too_short" else "at most"
        n = ctx.get("min_length", ctx.get("max_length"))
        return f"must have {words} {n} item{'s' if n != 1 else ''}"
    return str(err["msg"]).removeprefix("Value error, ")
