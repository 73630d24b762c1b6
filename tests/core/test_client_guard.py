"""The platform client reports a URL from platform data that resolves to a private address as refused for
good (host_not_allowed), not as an unreachable platform to retry."""

from __future__ import annotations

import aiohttp
import pytest

from relay.client import Call, HostPolicy, PlatformClient, Sessions
from relay.errors import DeliveryError, MediaError
from relay.netguard import NetGuard, guarded_session
from relay.reasons import Reason


async def test_guard_refusals_are_host_not_allowed_for_calls_and_streams() -> None:
    async with guarded_session(NetGuard()) as guarded, aiohttp.ClientSession() as trusted:
        client = PlatformClient(Sessions(trusted, guarded, trusted, guarded), HostPolicy(["127.0.0.1:*"]))
        with pytest.raises(DeliveryError) as caught:
            await client.call(Call("POST", "http://127.0.0.1:9/upload", body=b"x", hosts=()))
        assert caught.value.reason is Reason.HOST_NOT_ALLOWED and not caught.value.retryable
        with pytest.raises(MediaError, match="refused"):
            await client.stream(Call("GET", "http://127.0.0.1:9/file", hosts=()), 100)
