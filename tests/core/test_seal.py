"""Sealed references: deterministic, authenticated, rotatable."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.errors import AuthError
from relay.keyed import HmacSha256
from relay.model import Address, MediaRef
from relay.seal import Sealer, WorkspaceKey

K1 = WorkspaceKey("k1", b"first-key-0123456789abcdef")
K2 = WorkspaceKey("k2", b"second-key-0123456789abcdef")
ADDR = Address("tg", "123456", "7", "https://smba.example/emea/", "tenant", "private")


def test_same_address_same_string_and_round_trip() -> None:
    s = Sealer("ws", [K1])
    assert s.seal(ADDR) == s.seal(ADDR)
    assert s.open(s.seal(ADDR)) == ADDR
    assert "123456" not in s.seal(ADDR)


def test_rotation_keeps_old_references_open() -> None:
    old = Sealer("ws", [K1]).seal(ADDR)
    rotated = Sealer("ws", [K2, K1])
    assert rotated.open(old) == ADDR
    assert rotated.seal(ADDR).startswith("c1.k2.")
    with pytest.raises(AuthError):
        Sealer("ws", [K2]).open(old)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t.replace("c1.", "m1.", 1),
        lambda t: "c1.k1.",
        lambda t: "garbage",
    ],
)
def test_tampered_references_are_refused(mutate: object) -> None:
    s = Sealer("ws", [K1])
    with pytest.raises(AuthError) as err:
        s.open(mutate(s.seal(ADDR)))  # type: ignore[operator]
    assert err.value.status == 403


def test_other_workspace_cannot_open() -> None:
    with pytest.raises(AuthError):
        Sealer("other", [K1]).open(Sealer("ws", [K1]).seal(ADDR))


def test_refusals_name_what_was_forged() -> None:
    s = Sealer("ws", [K1])
    with pytest.raises(AuthError, match=r"^media reference is not valid"):
        s.open_media("garbage")
    with pytest.raises(AuthError, match=r"^conversation reference is not valid"):
        s.open("garbage")


def test_media_tokens_expire() -> None:
    s = Sealer("ws", [K1])
    token = s.seal_media(MediaRef("tg", "file-1"), "a.pdf", "application/pdf", 10, ttl=60)
    assert s.open_media(token).ref.file_id == "file-1"
    expired = s._seal("m1", ["tg", "file-1", "a.pdf", "application/pdf", 10, int(time.time()) - 1])
    with pytest.raises(AuthError):
        s.open_media(expired)


@given(key=st.binary(max_size=200), parts=st.lists(st.binary(max_size=300), max_size=4))
def test_keyed_mac_equals_stdlib_hmac(key: bytes, parts: list[bytes]) -> None:
    expected = hmac.new(key, b"".join(parts), hashlib.sha256).hexdigest()
    assert HmacSha256(key).hexdigest(*parts) == expected
    assert "***" in repr(HmacSha256(key))
