"""Template listing through the CRM webhook: Graph's pages followed up to a cap, then a cursor for the rest."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from relay.http import sign
from tests.connectors.whatsapp import fake_rules as rules
from tests.connectors.whatsapp.fake_graph import WABA
from tests.support.crm_sink import SINK_SECRET


async def _list(env: Any, **query: str) -> tuple[int, dict[str, Any]]:
    signed = urlencode({"channel": "wa"} | query)
    headers = {"X-Relay-Signature": sign(SINK_SECRET.encode(), signed.encode())}
    resp = await env.client.get(f"/hooks/crm/templates?{signed}", headers=headers)
    return resp.status, await resp.json()


def _many(env: Any, count: int) -> None:
    for n in range(count):
        env.graph.templates[f"promo_{n:03d}", "en_US"] = rules.TemplateSpec(category="MARKETING")


async def test_every_page_is_followed_and_the_list_is_complete(make_env: Any) -> None:
    env = await make_env(business_account_id=WABA)
    _many(env, 16 - len(env.graph.templates))
    env.graph.page_max = 4
    status, result = await _list(env)
    assert status == 200, result
    names = [t["name"] for t in result["templates"]]
    assert len(names) == len(set(names)) == 16
    assert result["next"] is None
    assert len(env.graph.template_pages) == 4
    assert "after" not in env.graph.template_pages[0]
    assert all("after" in q for q in env.graph.template_pages[1:])


async def test_past_ten_pages_the_crm_gets_a_cursor_and_continues_with_it(make_env: Any) -> None:
    env = await make_env(business_account_id=WABA)
    _many(env, 31 - len(env.graph.templates))
    env.graph.page_max = 2
    status, first = await _list(env)
    assert status == 200, first
    assert len(first["templates"]) == 20 and len(env.graph.template_pages) == 10
    assert isinstance(first["next"], str) and first["next"].endswith("=")
    status, rest = await _list(env, after=first["next"])
    assert status == 200, rest
    assert rest["next"] is None and len(rest["templates"]) == 11
    both = [t["name"] for t in first["templates"] + rest["templates"]]
    assert sorted(both) == sorted(name for name, _ in env.graph.templates)


async def test_a_named_template_is_listed_with_its_parameter_format(make_env: Any) -> None:
    env = await make_env(business_account_id=WABA)
    status, result = await _list(env)
    assert status == 200, result
    found = {t["name"]: t for t in result["templates"]}
    assert found["order_ready"]["parameter_format"] == "NAMED"
    assert found["order_ready"]["components"][0]["text"] == "Hi {{first_name}}, order {{order_id}} is ready"
    assert found["hello_world"]["parameter_format"] == "POSITIONAL"


async def test_a_bad_cursor_is_refused_before_graph_is_asked(make_env: Any) -> None:
    env = await make_env(business_account_id=WABA)
    status, result = await _list(env, after="not a cursor!")
    assert status == 400 and result["error"].startswith("after: invalid; expected the `next` cursor")
    assert env.graph.template_pages == []
    status, result = await _list(env, after="Zm9v")
    assert status == 422 and result["reason"] == "platform_rejected" and result["code"] == "100", result
