"""Fixtures for the Slack connector tests: the fake Slack, workspace builders, a signed event POST."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from tests.conftest import workspace
from tests.connectors.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, signed
from tests.support.crm_sink import SINK_SECRET

URL = "/hooks/slack/events"

WRITES: list[str] = []
_AUDIT = {"on": False}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _AUDIT["on"] and event == "open" and isinstance(args[1], str) and any(c in args[1] for c in "wax+"):
        WRITES.append(str(args[0]))


sys.addaudithook(_audit)


class no_writes:
    """Context manager: fails if any file is opened for writing inside it."""

    def __enter__(self) -> None:
        WRITES.clear()
        _AUDIT["on"] = True

    def __exit__(self, *exc: object) -> None:
        _AUDIT["on"] = False
        assert WRITES == [], f"files opened for writing: {WRITES}"


@pytest.fixture
async def fake_slack(aiohttp_server: Any) -> FakeSlack:
    fake = FakeSlack()
    server = await aiohttp_server(fake.app())
    fake.base = str(server.make_url("")).rstrip("/")
    return fake


def slack_config(fake: FakeSlack, **extra: Any) -> dict[str, Any]:
    return {
        "type": "slack",
        "bot_token": BOT_TOKEN,
        "signing_secret": SIGNING_SECRET,
        "api_base_url": f"{fake.base}/api/",
        **extra,
    }


def slack_to_crm(fake: FakeSlack, crm_url: str, crm: dict[str, Any] | None = None, **slack: Any) -> dict[str, Any]:
    """Slack instance "slack" routed to a webhook CRM "crm"."""
    return workspace(
        {
            "slack": slack_config(fake, **slack),
            "crm": {"type": "webhook", "url": crm_url, "secret": SINK_SECRET, **(crm or {})},
        },
        [{"from": ["slack"], "to": "crm"}],
        media={"allowlist": ["127.0.0.1:*"]},
        network={"allow_private": ["127.0.0.1/32"]},  # the fake serves file and upload URLs on loopback
    )


async def post_event(client: Any, body: dict[str, Any] | bytes, **headers: str) -> Any:
    """POST a body to the relay's Slack Events route, signed as Slack signs it."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(URL, data=raw, headers={**signed(raw), **headers})
