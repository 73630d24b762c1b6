"""Slack's Web API failures as the core's Reasons, with Slack's error code as the content-free detail."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from connectors.slack.sdk import call, refusal
from relay.errors import DeliveryError
from relay.reasons import Reason


@pytest.mark.parametrize(
    ("status", "error", "reason", "retryable"),
    [
        (429, "ratelimited", Reason.THROTTLED, True),
        (200, "ratelimited", Reason.THROTTLED, True),
        (200, "invalid_auth", Reason.PLATFORM_AUTH_FAILED, False),
        (200, "not_authed", Reason.PLATFORM_AUTH_FAILED, False),
        (200, "token_revoked", Reason.PLATFORM_AUTH_FAILED, False),
        (200, "channel_not_found", Reason.RECIPIENT_UNREACHABLE, False),
        (200, "not_in_channel", Reason.RECIPIENT_UNREACHABLE, False),
        (200, "is_archived", Reason.RECIPIENT_UNREACHABLE, False),
        (200, "user_not_found", Reason.RECIPIENT_UNREACHABLE, False),
        (200, "msg_too_long", Reason.PLATFORM_REJECTED, False),
        (500, "", Reason.PLATFORM_BUSY, False),
        (404, "", Reason.PLATFORM_MISCONFIGURED, True),
    ],
)
def test_slack_error_codes_map_to_reasons(status: int, error: str, reason: Reason, retryable: bool) -> None:
    body: dict[str, Any] = {"ok": False, "error": error} if error else {"ok": False}
    found = refusal(status, {"Retry-After": "7"} if status == 429 else {}, body)
    assert (found.reason, found.retryable) == (reason, retryable)
    assert found.detail == (error or str(status))


def test_rate_limit_waits_as_slack_says_and_codes_are_content_free() -> None:
    assert refusal(429, {"Retry-After": "7"}, {"ok": False, "error": "ratelimited"}).retry_after == 7.0
    assert refusal(200, {}, {"ok": False, "error": "ratelimited"}).retry_after == 1.0
    odd = refusal(200, {}, {"ok": False, "error": "Dana <dana@example.com> said: " + "x" * 200})
    assert odd.reason is Reason.PLATFORM_REJECTED and odd.detail is not None
    assert "@" not in odd.detail and " " not in odd.detail and len(odd.detail) <= 60


KEY = cast(Any, SimpleNamespace(host="slack.test", port=443, ssl=True))
API_ERROR = cast(Any, SlackApiError)


def _response(status: int, data: dict[str, Any]) -> AsyncSlackResponse:
    client = AsyncWebClient(token="xoxb-test")
    return AsyncSlackResponse(
        client=client, http_verb="POST", api_url="x", req_args={}, data=data, headers={}, status_code=status
    )


async def _raising(exc: BaseException) -> AsyncSlackResponse:
    raise exc


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (
            API_ERROR("failed", _response(200, {"ok": False, "error": "not_in_channel"})),
            Reason.RECIPIENT_UNREACHABLE,
        ),
        (aiohttp.ClientConnectorError(KEY, OSError(111, "refused")), Reason.PLATFORM_UNREACHABLE),
        (TimeoutError(), Reason.PLATFORM_TIMEOUT),
        (aiohttp.ServerDisconnectedError(), Reason.PLATFORM_CONNECTION_LOST),
    ],
)
async def test_library_and_transport_failures_become_delivery_errors(exc: BaseException, reason: Reason) -> None:
    with pytest.raises(DeliveryError) as caught:
        await call(_raising(exc))
    assert caught.value.reason is reason
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
