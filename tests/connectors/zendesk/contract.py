"""The Zendesk connector in the contract suite: the SunCo fake, recorded integration-webhook payloads."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.connectors.zendesk.fake import APP_ID, KEY_ID, KEY_SECRET, FakeSunco
from tests.connectors.zendesk.fake_integrations import WEBHOOK_SECRET
from tests.contract.case import ContractCase, Payload, recorded

HERE = Path(__file__).parent / "payloads"


def signed(body: bytes) -> Mapping[str, str]:
    """SunCo authenticates its webhook with the shared secret in X-API-Key."""
    return {"X-API-Key": WEBHOOK_SECRET, "Content-Type": "application/json"}


def zendesk_config(base: str, **more: Any) -> dict[str, Any]:
    """A zendesk connector pointed at the fake at `base`."""
    cfg = {
        "type": "zendesk",
        "base_url": base,
        "app_id": APP_ID,
        "key_id": KEY_ID,
        "key_secret": KEY_SECRET,
        "webhook_secret": WEBHOOK_SECRET,
    }
    return cfg | more


CASE = ContractCase(
    fake=FakeSunco,
    config=zendesk_config,
    payloads=(
        Payload("agent text", recorded(HERE, "agent_text.json"), signed),
        Payload("agent image", recorded(HERE, "agent_image.json"), signed),
        Payload("bot markdown in a batch", recorded(HERE, "batch.json"), signed),
        Payload("the relay's own post", recorded(HERE, "relay_echo.json"), signed, delivers=False),
        Payload("activity notice", recorded(HERE, "activity.json"), signed, delivers=False),
        Payload("a conversation not the relay's", recorded(HERE, "native_widget.json"), signed, delivers=False),
    ),
)
