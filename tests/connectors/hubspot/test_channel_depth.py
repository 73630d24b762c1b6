"""What HubSpot shows of WhatsApp's newer features: a username-only user under an opaque identifier, answered by
their user id; a tapped button or list row as its title in reply to the message that offered it."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import RelayFactory
from tests.connectors.hubspot.helpers import start
from tests.connectors.whatsapp.fake_graph import FakeGraph
from tests.connectors.whatsapp.helpers import payload, signature, wa_config

BSUID = "US.13491208655302741918"


async def test_username_user_and_a_tapped_choice_in_hubspot(aiohttp_server: Any, start_relay: RelayFactory) -> None:
    graph = FakeGraph()
    graph.base = str((await aiohttp_server(graph.app())).make_url("")).rstrip("/")
    env = await start(aiohttp_server, start_relay, {"wa": wa_config(graph.base)})
    raw = payload("bsuid_text.json")
    assert (await env.client.post("/hooks/wa", data=raw, headers=signature(raw))).status == 200
    customer = env.published()[0]
    assert customer["senders"][0]["deliveryIdentifier"] == {"type": "CHANNEL_SPECIFIC_OPAQUE_ID", "value": BSUID}
    reply, statuses = await env.fake.agent_reply(customer, "Which size?")
    assert statuses == [200] and graph.sent[-1]["recipient"] == BSUID

    data = json.loads(payload("reaction.json"))
    value = data["entry"][0]["changes"][0]["value"]
    tap = json.loads(payload("interactive_replies.json"))["entry"][0]["changes"][0]["value"]["messages"][1]
    tap.update(context={"from": "15550001111", "id": "wamid.OUT1"}, from_user_id=BSUID)
    tap.pop("from")
    value["messages"] = [tap]
    raw = json.dumps(data).encode()
    assert (await env.client.post("/hooks/wa", data=raw, headers=signature(raw))).status == 200
    picked = env.published()[-1]
    assert picked["text"] == "Medium\nChest 96-101 cm"
    assert picked["integrationThreadId"] == customer["integrationThreadId"]
    assert picked["inReplyToId"] == reply["id"]
