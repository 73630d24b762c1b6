"""Changes without restart under traffic: while messages flow from Telegram to the webhook CRM, both connectors
are edited and swapped; every message reaches the CRM exactly once (the sender redelivers on 503 as Telegram does)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from connectors.webhook.config import WebhookConfig
from tests.admin.conftest import StartWorkspace, Workspace
from tests.connectors.telegram.fake_api import SECRET, TOKEN

N = 400


def crm_config(ws: Workspace) -> WebhookConfig:
    return cast(WebhookConfig, ws.console.relay.loaded.instances["crm"].config)


def update(i: int) -> dict[str, Any]:
    person = {"id": 4200 + i % 7, "first_name": "Ana"}
    return {
        "update_id": 10_000 + i,
        "message": {
            "message_id": i + 1,
            "date": 1736935201,
            "text": f"m-{i}",
            "chat": {**person, "type": "private"},
            "from": {**person, "is_bot": False},
        },
    }


async def send_all(ws: Workspace, edits_done: asyncio.Event) -> int:
    """Deliver every update like Telegram: one at a time per sender, redelivered until answered 200."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(N):
        queue.put_nowait(i)
    redeliveries = 0

    async def sender() -> None:
        nonlocal redeliveries
        while not queue.empty():
            i = queue.get_nowait()
            if i >= N * 7 // 10:
                await edits_done.wait()
            while True:
                resp = await ws.client.post(
                    "/hooks/tg/", json=update(i), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
                )
                if resp.status == 200:
                    break
                assert resp.status == 503, await resp.text()
                redeliveries += 1
                await asyncio.sleep(0.05)

    await asyncio.gather(*(sender() for _ in range(6)))
    return redeliveries


async def edit_while_flowing(ws: Workspace, edits_done: asyncio.Event, busy: list[int]) -> int:
    swaps = 0
    url = f"{ws.fake_url}/bot"
    crm_url = str(crm_config(ws).url)
    for threshold in range(N // 10, N * 6 // 10 + 1, N // 10):
        while len(ws.sink.received) < threshold:
            await asyncio.sleep(0.005)
        if swaps % 2 == 0:
            resp = await ws.post("/admin/connectors/crm", url=crm_url, secret="", timeout=str(5 + swaps))
        else:
            resp = await ws.post("/admin/connectors/tg", api_base_url=url, accept_private="on", timeout=str(10 + swaps))
        assert resp.status == 303, await resp.text()
        busy.append(ws.console.swapper.last.in_flight)
        swaps += 1
    edits_done.set()
    return swaps


async def test_every_message_is_delivered_once_while_connectors_are_swapped(start_workspace: StartWorkspace) -> None:
    ws = await start_workspace()
    form = {"name": "tg", "token": TOKEN, "secret_token": SECRET, "api_base_url": f"{ws.fake_url}/bot"}
    assert (await ws.post("/admin/connectors/new/telegram", route_to="crm", accept_private="on", **form)).status == 303
    ws.sink.delay = 0.05
    first_crm = ws.console.relay.connectors["crm"]
    edits_done, busy = asyncio.Event(), list[int]()
    redeliveries, swaps = await asyncio.gather(send_all(ws, edits_done), edit_while_flowing(ws, edits_done, busy))
    assert swaps == 6 and sum(1 for b in busy if b > 0) >= 3, f"deliveries in flight at each swap: {busy}"
    texts = [body["message"]["text"] for body in ws.sink.received]
    assert len(texts) == N, f"{len(texts)} delivered, {redeliveries} redeliveries"
    assert sorted(texts) == sorted(f"m-{i}" for i in range(N))
    assert len(set(ws.sink.event_ids)) == N
    assert ws.console.relay.connectors["crm"] is not first_crm
    assert crm_config(ws).timeout == 5 + 2 * ((swaps - 1) // 2)
