"""The OpenAPI file is checked against the code's models, so the two cannot drift."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from connectors.webhook.convert import EVENT_TYPES, InboundAttachment, InboundBody, ping, to_payload
from relay.model import Address, Kind, Message, Party
from relay.reasons import Reason

SPEC: dict[str, Any] = importlib.import_module("yaml").safe_load(Path("docs/openapi/webhook-crm.yaml").read_text())
SCHEMAS = SPEC["components"]["schemas"]


def _limits(model: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    out = {}
    for name, prop in model["properties"].items():
        branches = prop.get("anyOf", [prop])
        lengths = {b.get("maxLength") for b in branches} - {None}
        enums = next((tuple(b["enum"]) for b in branches if "enum" in b), ())
        out[name] = (max(lengths, default=None), enums or prop.get("enum", ()))
    return out


def _doc(schema: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {n: (p.get("maxLength"), tuple(p.get("enum", ()))) for n, p in schema["properties"].items()}


def test_answer_schema_matches_the_model() -> None:
    answer = SCHEMAS["Answer"]
    model = InboundBody.model_json_schema()
    assert set(answer["properties"]) == set(model["properties"])
    assert set(answer["required"]) == set(model["required"])
    assert _doc(answer) == _limits(model)
    items = answer["properties"]["attachments"]["items"]
    assert _doc(items) == _limits(InboundAttachment.model_json_schema())
    assert answer["properties"]["attachments"]["maxItems"] == model["properties"]["attachments"]["maxItems"]


def test_event_schema_matches_what_is_sent() -> None:
    event = SCHEMAS["Event"]
    assert set(event["properties"]["type"]["enum"]) == {*EVENT_TYPES.values(), "ping"}
    address = Address("webchat", "v1")
    sender = Party(id="1", name="n", username="u", phone="p", email="e", language="de", is_bot=False)
    message = Message(kind=Kind.TEXT, id="m", origin="webchat", conversation=address, sender=sender)
    payload = to_payload(message, "c1", lambda _: None, {})
    assert set(payload) <= set(event["properties"]) and set(event["required"]) <= set(payload)
    assert set(payload["sender"]) == set(event["properties"]["sender"]["properties"])
    body = event["properties"]["message"]
    assert set(body["required"]) <= set(payload["message"]) <= set(body["properties"])
    _, pinged = ping("crm")
    assert set(event["required"]) <= set(pinged) and set(body["required"]) <= set(pinged["message"])


def test_reasons_and_error_bodies_are_in_the_schema() -> None:
    assert set(SCHEMAS["Result"]["properties"]["reason"]["enum"]) == {r.value for r in Reason}
    responses = SPEC["paths"]["/hooks/{instance}"]["post"]["responses"]
    for status in ("400", "401", "403", "404", "413", "422"):
        assert "content" in responses[status], status
    assert {"404", "301"} <= set(SPEC["webhooks"]["relayEvent"]["post"]["responses"])


def test_template_choices_and_start_schemas_match_the_models() -> None:
    from connectors.webhook.interactive import ChoicesBody, ParamBody, StartBody, TemplateBody

    for name, model in (("TemplateParam", ParamBody), ("Template", TemplateBody), ("Start", StartBody)):
        schema = model.model_json_schema()
        assert set(SCHEMAS[name]["properties"]) == set(schema["properties"]), name
        assert set(SCHEMAS[name]["required"]) == set(schema["required"]), name
    assert _doc(SCHEMAS["TemplateParam"]) == _limits(ParamBody.model_json_schema())
    choices = ChoicesBody.model_json_schema()
    assert set(SCHEMAS["Choices"]["properties"]) == set(choices["properties"])
    item = SCHEMAS["Choices"]["properties"]["items"]
    assert item["maxItems"] == choices["properties"]["items"]["maxItems"]
    assert _doc(item["items"]) == _limits(choices["$defs"]["ChoiceBody"])
    answer_types = set(SCHEMAS["Answer"]["properties"]["type"]["enum"])
    assert answer_types == set(InboundBody.model_json_schema()["properties"]["type"]["enum"])
    for path in ("/hooks/{instance}/conversations", "/hooks/{instance}/templates"):
        assert path in SPEC["paths"], path


def test_a_picked_choice_is_in_the_event_schema() -> None:
    from relay.interact import Choice

    body = SCHEMAS["Event"]["properties"]["message"]["properties"]
    message = Message(kind=Kind.TEXT, id="m", origin="wa", conversation=Address("wa", "1"), choice=Choice("yes", "Yes"))
    payload = to_payload(message, "c1", lambda _: None, {})
    assert payload["message"]["choice"] == {"id": "yes", "title": "Yes"}
    assert set(payload["message"]["choice"]) == set(body["choice"]["properties"])
