"""What BottleCRM shows of WhatsApp's newer features: a username-only user found again by identity tag, and a
tapped option as its title under a "choice" subject (BottleCRM has no replies, buttons or typing)."""

from __future__ import annotations

from typing import Any

from relay.interact import Choice
from relay.model import Address, Kind, Message, Party
from relay.richtext import RichText
from tests.conftest import RelayFactory
from tests.connectors.bottlecrm.test_fake import fake, relay_for

BSUID = "US.13491208655302741918"
__all__ = ["fake"]


def _from_username_user(mid: str, text: str, choice: Choice | None = None) -> Message:
    return Message(
        kind=Kind.TEXT,
        id=mid,
        origin="webchat",
        conversation=Address("webchat", BSUID),
        sender=Party(id=BSUID, name="Sam Lee", username="@samlee"),
        text=RichText.of(text),
        choice=choice,
        ref="wamid.OUT1" if choice else None,
    )


async def test_username_user_and_a_tapped_choice(start_relay: RelayFactory, fake: Any) -> None:
    crm, url = fake
    _, _, conn = await relay_for(start_relay, url, interaction_kind={"webchat": "whatsapp"})
    await conn.send(_from_username_user("m1", "Hi"))
    await conn.send(_from_username_user("m2", "Monday", Choice("slot-mon", "Monday")))
    assert len(crm.records["contact"]) == 1
    first, picked = crm.interactions
    assert first["subject"] == "Whatsapp message via webchat"
    assert picked["subject"] == "Whatsapp choice via webchat" and picked["body"] == "Monday"
    assert picked["contact"] == first["contact"]
