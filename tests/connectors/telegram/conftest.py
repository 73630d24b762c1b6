"""Fixtures: the fake Bot API on an ephemeral port."""

from __future__ import annotations

from typing import Any

import pytest

from tests.connectors.telegram.fake_api import FakeTelegram


@pytest.fixture
async def fake_tg(aiohttp_server: Any) -> tuple[FakeTelegram, str]:
    """(fake, root URL) of a running fake Bot API."""
    fake = FakeTelegram()
    server = await aiohttp_server(fake.app())
    return fake, str(server.make_url("/")).rstrip("/")
