"""End to end against the REAL BottleCRM (django-crm 1.35.0): webchat -> relay -> CRM -> agent -> relay -> webchat."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import pytest

from connectors.bottlecrm import admin
from connectors.bottlecrm.convert import marker_in
from relay.http import sign
from tests.conftest import chat_token
from tests.connectors.bottlecrm.conftest import Wired

pytestmark = [pytest.mark.peer, pytest.mark.timeout(400)]

WRITES: list[str] = []
_AUDIT = {"on": False}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _AUDIT["on"] and event == "open" and isinstance(args[1], str) and any(c in args[1] for c in "wax+"):
        WRITES.append(str(args[0]))


sys.addaudithook(_audit)


async def _events(w: Wired, chat: dict[str, str]) -> list[dict[str, Any]]:
    resp = await w.client.get("/hooks/webchat/api/events?since=-1", headers=chat)
    items: list[dict[str, Any]] = (await resp.json())["items"]
    return items


async def _say(w: Wired, chat: dict[str, str], mid: str, text: str, **extra: Any) -> None:
    """A customer writes; the CRM's id for it stays inside the relay (never sent to the browser)."""
    resp = await w.client.post("/hooks/webchat/api/messages", json={"id": mid, "text": text, **extra}, headers=chat)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["status"] == "delivered" and "id" not in body, body


async def _contact_named(w: Wired, name: str) -> str:
    status, page = await w.bot("GET", f"/api/contacts/?name={name}")
    assert status == 200 and len(page["results"]) == 1, page
    return str(page["results"][0]["id"])


async def _interactions(w: Wired, home: str, record_id: str) -> dict[str, dict[str, Any]]:
    status, page = await w.bot("GET", f"/api/interactions/?{home}={record_id}")
    assert status == 200, page
    return {str(i["id"]): i for i in page["interactions"]}


async def _deliveries(w: Wired) -> list[dict[str, Any]]:
    status, body = await w.agent("GET", f"/api/webhooks/{w.webhook_id}/deliveries/")
    assert status == 200, body
    rows = body.get("deliveries") or body.get("results") or [] if isinstance(body, dict) else body
    return list(rows)


async def test_full_loop_with_real_bottlecrm(wire: Any, caplog: pytest.LogCaptureFixture, canary: str) -> None:
    caplog.set_level(logging.DEBUG)
    w: Wired = await wire()
    chat = await chat_token(w.client)
    WRITES.clear()
    _AUDIT["on"] = True
    try:
        await _say(w, chat, "m1", f"Where is my order? {canary}", name="Ana Silva")
        await _say(w, chat, "m2", f"Order 42, {canary}", name="Ana Silva")

        contact_id = await _contact_named(w, "Silva")
        logged = await _interactions(w, "contact", contact_id)
        assert len(logged) == 2, "the same visitor must land on the same contact"
        item = next(i for i in logged.values() if "Where is my order?" in i["body"])
        assert (item["direction"], item["kind"], item["home"]) == ("inbound", "sms", "contact")
        assert canary in item["body"] and item["logged_by"] == w.creds.profile_id
        status, contact = await w.bot("GET", f"/api/contacts/{contact_id}/")
        obj = contact["contact_obj"]
        assert obj["first_name"] == "Ana" and obj["last_name"].startswith("Silva [r")
        sealed = marker_in(obj["description"])
        assert sealed is not None and w.relay.sealer.open(sealed).instance == "webchat"

        status, reply = await w.agent(
            "POST",
            "/api/interactions/",
            {
                "kind": "sms",
                "direction": "outbound",
                "subject": "Re: order",
                "body": "Shipped today",
                "contact": contact_id,
            },
        )
        assert status == 201, reply
        items = await _events(w, chat)
        assert [i["html"] for i in items] == ["Shipped today"]

        rows = await _deliveries(w)
        assert rows and all(r["status"] == "succeeded" for r in rows), rows
        outbound = [r for r in rows if (r.get("payload") or {}).get("data", {}).get("id") == reply["id"]]
        assert len(outbound) == 1, rows
        status, again = await w.agent("POST", f"/api/webhooks/deliveries/{outbound[0]['id']}/redeliver/")
        assert status == 202, again
        assert len(await _events(w, chat)) == 1, "a redelivered webhook must reach the customer once"
        redelivered = [r for r in await _deliveries(w) if r["id"] == again["id"]]
        assert redelivered and redelivered[0]["status"] == "succeeded", redelivered
    finally:
        _AUDIT["on"] = False
    assert WRITES == [], f"the relay opened files for writing during traffic: {WRITES}"
    for record in caplog.records:
        assert canary not in record.getMessage() and canary not in str(record.__dict__)


async def test_forged_and_replayed_webhooks(wire: Any) -> None:
    w: Wired = await wire()
    chat = await chat_token(w.client)
    await _say(w, chat, "m1", "hello", name="Rui")
    contact_id = await _contact_named(w, "Rui")
    fake = {
        "id": "11111111-2222-3333-4444-555555555555",
        "event": "interaction.created",
        "org_id": "x",
        "data": {
            "id": "66666666-7777-8888-9999-000000000000",
            "kind": "sms",
            "direction": "outbound",
            "body": "forged",
            "logged_by": w.creds.agent_profile_id,
            "contact_id": contact_id,
        },
    }
    raw = json.dumps(fake).encode()
    headers = {"Content-Type": "application/json"}
    resp = await w.client.post("/hooks/crm/", data=raw, headers=headers)
    assert resp.status == 401
    bad = sign(b"whsec_wrong-secret-0123456789", raw)
    resp = await w.client.post("/hooks/crm/", data=raw, headers={**headers, "X-BottleCRM-Signature": bad})
    assert resp.status == 401
    assert await _events(w, chat) == []

    good = {**headers, "X-BottleCRM-Signature": sign(w.secret.encode(), raw)}
    for _ in range(3):
        resp = await w.client.post("/hooks/crm/", data=raw, headers=good)
        assert resp.status == 200, await resp.text()
    assert [i["html"] for i in await _events(w, chat)] == ["forged"]


async def test_lead_mode_and_own_interactions_are_not_echoed(wire: Any) -> None:
    w: Wired = await wire(record="lead", interaction_kind={"webchat": "whatsapp"})
    chat = await chat_token(w.client)
    await _say(w, chat, "m1", "I want a quote", name="Rita")
    status, page = await w.bot("GET", "/api/leads/?name=Rita")
    lead_id = page["open_leads"]["open_leads"][0]["id"]
    (item,) = (await _interactions(w, "lead", lead_id)).values()
    assert (item["home"], item["kind"], item["direction"]) == ("lead", "whatsapp", "inbound")
    rows = await _deliveries(w)
    assert rows and all(r["status"] == "succeeded" for r in rows)
    assert await _events(w, chat) == [], "the relay's own inbound interaction must not come back"
    status, reply = await w.agent(
        "POST",
        "/api/interactions/",
        {"kind": "whatsapp", "direction": "outbound", "body": "Quote attached", "lead": item["lead"]},
    )
    assert status == 201, reply
    assert [i["html"] for i in await _events(w, chat)] == ["Quote attached"]


async def test_check_and_webhook_registration(wire: Any) -> None:
    w: Wired = await wire()
    checks = {c.what: c for c in await w.relay.connectors["crm"].check()}
    assert checks["API token"].ok
    assert checks["webhook secret"].ok
    assert checks["webhook registered"].ok is None and "register-webhook" in checks["webhook registered"].detail
    assert await admin.ensure_webhook(w.crm.base_url, w.creds.jwt, w.hook_url, ["interaction.created"]) is None
    with pytest.raises(admin.AdminError):
        await admin.ensure_webhook(w.crm.base_url, w.creds.pat, w.hook_url, ["interaction.created"])
