"""Hypothesis strategies for hostile request bodies and query strings."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from tests.security.common import MAX_BODY

ODD = ["\u0000", "\u202e", "\u200f", "\u200b", "\ufeff", "\u0301", "😀", "é", "a", "\n", '"', "\\"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.text(alphabet=st.sampled_from(ODD), max_size=20),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=16,
)


def _shaped(values: dict[str, Any]) -> bytes:
    return json.dumps(values).encode()


# Platform-like envelopes whose fields have the wrong types or odd contents.
shaped = st.one_of(
    st.fixed_dictionaries({"update_id": json_values, "message": json_values}).map(_shaped),
    st.fixed_dictionaries({"conversation": json_values, "id": json_values, "text": json_values}).map(_shaped),
    st.fixed_dictionaries({"object": st.just("whatsapp_business_account"), "entry": json_values}).map(_shaped),
    st.fixed_dictionaries({"type": st.just("event_callback"), "event": json_values}).map(_shaped),
    st.fixed_dictionaries({"event": json_values, "data": json_values, "id": json_values}).map(_shaped),
    st.fixed_dictionaries({"id": st.text(max_size=30), "text": st.text(alphabet=st.sampled_from(ODD))}).map(_shaped),
)

nested = st.integers(min_value=50, max_value=20000).flatmap(
    lambda n: st.sampled_from([("[" * n + "]" * n).encode(), ('{"a":' * n + "1" + "}" * n).encode()])
)

# Lone surrogates and NULs as JSON escapes: valid JSON text, invalid Unicode once decoded.
escapes = st.sampled_from(
    [
        b'"\\ud800"',
        b'{"text": "\\udfff\\u0000", "id": "\\ud83d"}',
        b'{"update_id": 1, "message": {"text": "\\ud800\\u202e"}}',
        b'{"conversation": "\\u0000", "id": "\\udc00", "text": "x"}',
        b"\xff\xfe\x00{",
        b"\xed\xa0\x80",
    ]
)

huge = st.integers(min_value=1, max_value=4096).map(lambda extra: b"[" + b"1," * ((MAX_BODY + extra) // 2) + b"1]")

bodies = st.one_of(st.binary(max_size=300), json_values.map(_shaped), shaped, nested, escapes, huge)

queries = st.dictionaries(
    st.sampled_from(["since", "wait", "hub.mode", "hub.verify_token", "hub.challenge", "x"]),
    st.one_of(st.text(alphabet=st.sampled_from([*ODD[1:], "1", "-"]), max_size=40), st.just("9" * 30)),
    max_size=4,
)

auth_modes = st.sampled_from(["none", "garbage", "replayed", "valid"])

# Credentials no platform issues: non-ASCII letters, digits from other scripts, bidi controls, emoji, in the
# shape of each scheme (a signature header, a bearer token, a timestamp) so parsing reaches the comparison.
_NON_ASCII = st.text(
    alphabet=st.characters(min_codepoint=0xA0, exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=40
)
_SHAPES = st.sampled_from(["", "t=1,v1=", "t=9999999999,v1=", "sha256=", "v0=", "Bearer ", "0123456789abcdef."])
non_ascii_credentials = st.builds(
    lambda shape, odd, tail: shape + odd + tail, _SHAPES, _NON_ASCII, st.text("0af", max_size=8)
)
