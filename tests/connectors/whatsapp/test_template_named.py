"""Templates with named variables (`parameter_format: NAMED`): a CRM names each parameter, Graph gets
`parameter_name`; a positional call to a named template is Graph's 132012."""

from __future__ import annotations

import json
from typing import Any

from connectors.whatsapp import compose
from relay.http import sign
from relay.interact import ParamKind, Template, TemplateParam
from tests.connectors.whatsapp.helpers import signature, text_payload
from tests.support.crm_sink import SINK_SECRET

NAMED = [
    {"type": "text", "value": "Ana", "name": "first_name"},
    {"type": "text", "value": "A-17", "name": "order_id"},
]


async def _answer(env: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    raw = json.dumps(body).encode()
    resp = await env.client.post("/hooks/crm", data=raw, headers={"X-Relay-Signature": sign(SINK_SECRET.encode(), raw)})
    return resp.status, await resp.json()


async def _conversation(env: Any) -> str:
    raw = text_payload("wamid.IN1", "where is my order?")
    assert (await env.client.post("/hooks/wa", data=raw, headers=signature(raw))).status == 200
    return str(env.sink.messages()[0]["conversation"])


def _template(body: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": "order_ready", "language": "en_US", "body": body}


async def test_a_named_template_goes_out_with_parameter_names(make_env: Any) -> None:
    env = await make_env()
    conversation = await _conversation(env)
    answer = {"conversation": conversation, "id": "crm-1", "type": "template", "template": _template(NAMED)}
    status, result = await _answer(env, answer)
    assert status == 200 and result["status"] == "delivered", result
    [component] = env.graph.sent[-1]["template"]["components"]
    assert component == {
        "type": "body",
        "parameters": [
            {"type": "text", "text": "Ana", "parameter_name": "first_name"},
            {"type": "text", "text": "A-17", "parameter_name": "order_id"},
        ],
    }


async def test_positional_parameters_to_a_named_template_are_graphs_refusal(make_env: Any) -> None:
    env = await make_env()
    conversation = await _conversation(env)
    positional = [{"type": p["type"], "value": p["value"]} for p in NAMED]
    for n, (body, code) in enumerate(((positional, "132012"), (NAMED[:1], "132000"))):
        answer = {"conversation": conversation, "id": f"crm-{n}", "type": "template", "template": _template(body)}
        status, result = await _answer(env, answer)
        assert status == 422 and result["reason"] == "platform_rejected" and result["code"] == code, result
    named_hello = {"name": "hello_world", "language": "en_US", "body": []}
    answer = {"conversation": conversation, "id": "crm-ok", "type": "template", "template": named_hello}
    assert (await _answer(env, answer))[0] == 200
    assert len(env.graph.sent) == 1


def test_names_go_on_text_amounts_and_dates_but_not_on_media() -> None:
    tpl = Template(
        "promo",
        "en",
        header=(TemplateParam(ParamKind.IMAGE, "https://cdn.example.com/a.png", name="banner"),),
        body=(
            TemplateParam(ParamKind.CURRENCY, "EUR 12.50", "€12.50", "price"),
            TemplateParam(ParamKind.TEXT, "Ana"),
        ),
    )
    header, body = compose.template(tpl)["template"]["components"]
    assert "parameter_name" not in header["parameters"][0]
    assert body["parameters"][0]["parameter_name"] == "price" and "parameter_name" not in body["parameters"][1]
