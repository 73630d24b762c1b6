"""docs/openapi/webchat.yaml is checked against the code: its routes, the post model, and live answers."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from connectors.webchat.convert import ChatPost
from relay.model import Kind
from relay.reasons import Reason
from tests.conftest import RelayFactory, chat_token, sandbox_workspace, webhook_workspace
from tests.connectors.webhook.test_crm_files import answer
from tests.support.crm_sink import CrmSink

SPEC: dict[str, Any] = importlib.import_module("yaml").safe_load(Path("docs/openapi/webchat.yaml").read_text())
SCHEMAS = SPEC["components"]["schemas"]
MESSAGES = SPEC["paths"]["/hooks/{instance}/api/messages"]["post"]
_jsonschema: Any = importlib.import_module("jsonschema")


def valid(name: str, body: Any) -> None:
    """Validate a body against one of the file's schemas (refs resolved within the file)."""
    _jsonschema.Draft202012Validator({**SPEC, "$ref": f"#/components/schemas/{name}"}).validate(body)


async def test_the_routes_are_the_ones_the_connector_serves(start_relay: RelayFactory) -> None:
    _, relay = await start_relay(sandbox_workspace())
    served = {(r.method.lower(), f"/hooks/{{instance}}{r.path}") for r in relay.connectors["webchat"].routes()}
    documented = {(m, p) for p, ops in SPEC["paths"].items() for m in ops}
    assert documented == served


def test_the_post_schema_is_the_model() -> None:
    model = ChatPost.model_json_schema()
    post = SCHEMAS["Post"]
    assert set(post["properties"]) == set(model["properties"]) and set(post["required"]) == set(model["required"])
    assert post["additionalProperties"] is False and model["additionalProperties"] is False
    for name, prop in model["properties"].items():
        branch = next(b for b in prop.get("anyOf", [prop]) if b.get("type") == "string")
        for key in ("minLength", "maxLength", "pattern"):
            assert post["properties"][name].get(key) == branch.get(key), (name, key)


def test_kinds_and_reasons_are_the_code_s() -> None:
    assert set(SCHEMAS["Item"]["properties"]["kind"]["enum"]) <= {k.value for k in Kind}
    assert "channel_full" in {r.value for r in Reason} and "rate_limited" in {r.value for r in Reason}


async def test_live_answers_match_the_file(start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]) -> None:
    sink, url = crm_sink
    config = webhook_workspace(url)
    config["connectors"]["webchat"] |= {"session_burst": 2, "sessions_per_minute": 1, "ack_deadline": 1.0}
    client, _ = await start_relay(config)
    resp = await client.post("/hooks/webchat/api/session")
    valid("Session", await resp.json())
    chat = {"X-Webchat-Token": (await resp.json())["token"]}

    first = {"id": "m1", "text": "hi", "name": "Ana"}
    resp = await client.post("/hooks/webchat/api/messages", json=first, headers=chat)
    assert resp.status == 200
    valid("Result", await resp.json())
    again = await client.post("/hooks/webchat/api/messages", json={"id": "m1", "text": "hi"}, headers=chat)
    assert (await again.json())["status"] == "duplicate"
    for body, headers, status in (
        ({"id": "m 2", "text": "hi"}, chat, 400),
        ({"id": "m2", "text": "hi", "extra": 1}, chat, 400),
        ({"id": "m2", "text": "hi"}, {"X-Webchat-Token": "forged.token"}, 401),
    ):
        resp = await client.post("/hooks/webchat/api/messages", json=body, headers=headers)
        assert resp.status == status and str(status) in MESSAGES["responses"]
        valid("Error", await resp.json())

    sink.mode = "500"
    resp = await client.post("/hooks/webchat/api/messages", json={"id": "m3", "text": "hi"}, headers=chat)
    assert resp.status == 503 and resp.headers["Retry-After"]
    valid("Result", await resp.json())
    sink.mode = "ok"

    status, _ = await answer(
        client, {"conversation": sink.received[0]["conversation"], "id": "crm-ack-id-7f3q", "text": "**ok**"}
    )
    assert status == 200
    resp = await client.get("/hooks/webchat/api/events?since=0&wait=0", headers=chat)
    events = await resp.json()
    valid("Events", events)
    assert events["items"][0]["html"] == "<b>ok</b>" and "crm-ack-id-7f3q" not in json.dumps(events)
    for query, status in (("since=x", 400), ("since=0&wait=0", 401)):
        headers = chat if status == 400 else {}
        resp = await client.get(f"/hooks/webchat/api/events?{query}", headers=headers)
        assert resp.status == status
        valid("Error", await resp.json())

    await chat_token(client)
    resp = await client.post("/hooks/webchat/api/session")
    assert resp.status == 429 and resp.headers["Retry-After"]
    valid("Error", await resp.json())
