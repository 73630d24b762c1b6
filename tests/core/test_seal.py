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
ADDR = Address("tg", "123456", "7", '{"chat_type":"private"}')
WORKSPACE_KEY = WorkspaceKey("k1", b"test-workspace-key-0123456789abcdef")
# Sealed by the first format (c1), before the address held an opaque handle: they must still open.
SEALED_C1_TEAMS = (
    "c1.k1.Y7eDK8pixcHx7AEFrZ9YL8yG5AIwS1dt6UsrRcmEiW4JR8HS-mMiJ7FoG-cu0sdtWK16duJAeWSSUK47YCdB3FhUGMULAQjVA6"
    "_hCCKWevnA12mfQ6tDivj7ExOJtMw9ZgxtGVmYJ010uTKozqVrGcM"
)
SEALED_C1_TELEGRAM = "c1.k1.aiw6COrZExKwmDLQPsyCD_WttBRBmz2xqMdYHdCPj2ex3qqZumX2hyPlTZy0hyM2L_mMs0ngAc3kDol2"
SEALED_C1_WEBCHAT = "c1.k1.gB3Pvug3bBoA_HJi9E9MGHus0dY54noYAN3DGZXwNs2dE02Z8V_le7OrodtIGsEI688Zxg"


def test_same_address_same_string_and_round_trip() -> None:
    s = Sealer("ws", [K1])
    assert s.seal(ADDR) == s.seal(ADDR)
    assert s.open(s.seal(ADDR)) == ADDR
    assert "123456" not in s.seal(ADDR)


def test_rotation_keeps_old_references_open() -> None:
    old = Sealer("ws", [K1]).seal(ADDR)
    rotated = Sealer("ws", [K2, K1])
    assert rotated.open(old) == ADDR
    assert rotated.seal(ADDR).startswith("c2.k2.")
    with pytest.raises(AuthError):
        Sealer("ws", [K2]).open(old)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t.replace("c2.", "m1.", 1),
        lambda t: t.replace("c2.", "c1.", 1),
        lambda t: "c2.k1.",
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


def test_references_sealed_in_the_first_format_still_open() -> None:
    s = Sealer("test", [WORKSPACE_KEY])
    teams = s.open(SEALED_C1_TEAMS)
    assert (teams.instance, teams.chat, teams.thread) == ("teams", "19:abc;messageid=42", "42")
    assert teams.handle == '{"service_url":"https://smba.trafficmanager.net/emea/","chat_type":"channel"}'
    assert s.open(SEALED_C1_TELEGRAM) == Address("tg", "-100123", None, '{"chat_type":"supergroup"}')
    assert s.open(SEALED_C1_WEBCHAT) == Address("webchat", "v1")
    assert s.seal(Address("webchat", "v1")).startswith("c2.k1.")


def test_the_handle_is_sealed_and_hidden() -> None:
    s = Sealer("ws", [K1])
    sealed = s.seal(Address("mail", "thread-1", None, "<secret-message-id@example.com>"))
    assert "secret" not in sealed and "secret" not in repr(s.open(sealed))
    assert s.open(sealed).handle == "<secret-message-id@example.com>"
