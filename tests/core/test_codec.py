"""The hot path's JSON: orjson where it can, the standard library's answer where it cannot."""

from __future__ import annotations

import json

import pytest

from relay import codec
from relay.errors import BadRequest
from relay.http import parse_json


def test_round_trip_is_compact_utf8() -> None:
    value = {"text": "Grüße 👋", "n": 2**62, "ok": True, "list": [1.5, None]}
    raw = codec.dumps(value)
    assert raw == json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    assert codec.loads(raw) == value


@pytest.mark.parametrize(
    "value",
    [{"text": "lone \ud83d surrogate"}, {"n": 2**70}, {1: "int key"}],
    ids=["surrogate", "bigint", "int-key"],
)
def test_what_orjson_refuses_to_write_is_written_as_valid_json(value: object) -> None:
    raw = codec.dumps(value)
    raw.decode("utf-8")
    assert json.loads(raw) == json.loads(json.dumps(value))


def test_what_orjson_refuses_to_read_gets_the_standard_librarys_answer() -> None:
    assert codec.loads(b'{"a":"\\ud800"}') == {"a": "\ud800"}
    with pytest.raises(ValueError):
        codec.loads(b'{"a":')


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b"{nope}", b""])
def test_bad_bodies_are_a_400_with_a_reason(raw: bytes) -> None:
    with pytest.raises(BadRequest) as err:
        parse_json(raw)
    assert err.value.status == 400 and "not valid JSON" in err.value.reason
