"""Each scheme's own check refuses a credential that is not printable ASCII with a 401, whatever the
characters (non-ASCII letters, other scripts' digits, lone surrogates from undecodable bytes)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from connectors.slack.inbound import verify as slack_verify
from connectors.teams.auth import bearer
from connectors.telegram.inbound import authenticate as telegram_authenticate
from connectors.whatsapp.inbound import verify_signature as whatsapp_verify
from relay.connector import HookRequest
from relay.errors import AuthError
from relay.http import verify
from relay.secret import Secret


def hook_request(headers: dict[str, str], body: bytes = b"{}") -> HookRequest:
    """What a webhook's authenticate step sees, with these headers."""
    return HookRequest(CIMultiDictProxy(CIMultiDict(headers)), {}, body)


ODD = ["é", "t=1,v1=é", "\udcff\udcfe", "sha256=\u202e00", "v0=😀", "١٢٣٤٥٦٧٨٩٠", "0123\x00"]
KEY = b"a-shared-key-0123456789"
CHECKS: dict[str, Callable[[str], None]] = {
    "relay-signature": lambda v: verify(KEY, f"t={int(time.time())},v1={v}", b"{}"),
    "whatsapp": lambda v: whatsapp_verify(KEY, v, b"{}"),
    "slack": lambda v: slack_verify(
        KEY, {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": v}, b""
    ),
    "telegram": lambda v: telegram_authenticate(KEY, hook_request({"X-Telegram-Bot-Api-Secret-Token": v})),
    "teams": lambda v: bearer("Bearer " + v),
}


@pytest.mark.parametrize("value", ODD)
@pytest.mark.parametrize("scheme", sorted(CHECKS))
def test_malformed_credentials_are_a_401(scheme: str, value: str) -> None:
    with pytest.raises(AuthError) as info:
        CHECKS[scheme](value)
    assert info.value.status == 401
    assert "malformed" in info.value.reason


@pytest.mark.parametrize("value", ODD)
def test_comparisons_take_any_text(value: str) -> None:
    from relay.credential import bearer_matches, malformed_header, same

    assert not same(value, KEY)
    assert same(value, value)
    assert not bearer_matches(Secret("a-metrics-token-0123456789"), "Bearer " + value)
    assert malformed_header({"X-Hub-Signature-256": value, "Accept": "*/*"}) == "X-Hub-Signature-256"


def test_printable_ascii_headers_pass_the_guard() -> None:
    from relay.credential import malformed_header

    assert malformed_header({"Authorization": "Bearer abc", "User-Agent": "Zoë's browser"}) is None
