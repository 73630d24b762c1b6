"""The chat API's refusals name the limit they enforce, and blank text is refused as the page refuses it."""

from __future__ import annotations

import pytest

from tests.conftest import RelayFactory, chat_token, sandbox_workspace


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("x" * 4001, "invalid fields: text (at most 4000 characters)"),
        ("   \n\t ", "invalid fields: text (empty or only spaces)"),
        ("", "invalid fields: text (empty or only spaces)"),
    ],
)
async def test_a_refused_text_says_why_and_the_limit(start_relay: RelayFactory, text: str, error: str) -> None:
    client, _ = await start_relay(sandbox_workspace())
    chat = await chat_token(client)
    resp = await client.post("/hooks/webchat/api/messages", json={"id": "m1", "text": text}, headers=chat)
    assert resp.status == 400
    assert (await resp.json())["error"] == error


async def test_a_long_name_names_its_limit_and_never_echoes_values(start_relay: RelayFactory) -> None:
    client, _ = await start_relay(sandbox_workspace())
    chat = await chat_token(client)
    body = {"id": "m1", "text": "SECRET-TEXT " * 400, "name": "N" * 81}
    resp = await client.post("/hooks/webchat/api/messages", json=body, headers=chat)
    answer = await resp.text()
    assert resp.status == 400
    assert "name (at most 80 characters)" in answer and "text (at most 4000 characters)" in answer
    assert "SECRET-TEXT" not in answer and "NNNN" not in answer


async def test_the_page_knows_the_limit(start_relay: RelayFactory) -> None:
    client, _ = await start_relay(sandbox_workspace())
    page = await (await client.get("/hooks/webchat/")).text()
    assert 'const MAX = Number("4000");' in page
    assert "maxlength=" not in page.split("<textarea", 1)[1].split(">", 1)[0]
