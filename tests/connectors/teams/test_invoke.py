"""Universal Action invokes: answered with the updated card or an error, old submit shapes, the fake's checks."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.teams.cards import CARD, already_answered, answered, invoke_answer
from relay.connector import Outcome, Result
from relay.errors import DeliveryError
from relay.interact import Choice
from relay.reasons import Reason
from relay.richtext import RichText
from tests.connectors.teams.conftest import Setup
from tests.connectors.teams.fake_cards import activity_problem, execute, invoke_problem, submit
from tests.connectors.teams.test_interact import SLOTS, card_of, crm_says, invoked
from tests.support.spy import handed_to, refuse_once

FRIDAY = Choice("slot-friday", "Friday")


async def asked(setup: Setup) -> tuple[str, dict[str, Any]]:
    await setup.relay.engine.deliver(crm_says(setup, text=RichText.of("When shall we deliver?"), choices=SLOTS))
    return card_of(setup)


async def test_a_choice_the_crm_refused_is_an_error_that_keeps_the_card_to_try_again(setup: Setup) -> None:
    activity_id, card = await asked(setup)
    seen = handed_to(setup.relay)
    refuse_once(setup.relay, DeliveryError(Reason.PLATFORM_REJECTED, detail="test"))
    refused = await invoked(setup, execute(setup.service, activity_id, card, "Friday"))
    assert (refused["statusCode"], refused["value"]["code"]) == (500, "platform_rejected")
    assert "actions" not in refused["value"]
    answer = await invoked(setup, execute(setup.service, activity_id, card, "Friday"))
    assert (answer["statusCode"], answer["type"]) == (200, CARD) and answer["value"] == answered(FRIDAY)
    assert [m.choice for m in seen] == [FRIDAY]


async def test_a_message_back_from_a_card_sent_before_still_comes_back_with_the_choice(setup: Setup) -> None:
    activity_id, _ = await asked(setup)
    value = {"relay_choice": "slot-friday", "relay_title": "Friday"}
    back = {"msteams": {"type": "messageBack", "text": "relay_choice", "displayText": "Friday", "value": value}}
    action = {"type": "Action.Submit", "title": "Friday", "data": back}
    old: dict[str, Any] = {"contentType": CARD, "content": {"type": "AdaptiveCard", "version": "1.2", "body": []}}
    old["content"]["actions"] = [action]
    seen = handed_to(setup.relay)
    tap = submit(setup.service, activity_id, old, "Friday")
    assert tap["text"] == "relay_choice" and "msteams" not in tap["value"]
    resp = await setup.post(tap)
    assert resp.status == 200 and (await resp.json())["status"] == "delivered", await resp.text()
    assert [(m.choice, m.ref, m.text.plain) for m in seen] == [(FRIDAY, "crm-ask-1", "Friday")]


@pytest.mark.parametrize("change", ["another verb", "another invoke", "no choice"])
async def test_invokes_that_are_not_a_relay_choice_deliver_nothing(setup: Setup, change: str) -> None:
    activity_id, card = await asked(setup)
    tap = execute(setup.service, activity_id, card, "Friday")
    if change == "another verb":
        tap["value"]["action"]["verb"] = "somebody_else"
    elif change == "another invoke":
        tap["name"] = "composeExtension/query"
    else:
        tap["value"]["action"]["data"] = {}
    seen = handed_to(setup.relay)
    resp = await setup.post(tap)
    assert resp.status == 200 and (await resp.json())["status"] == "ignored" and seen == []


def test_the_fake_refuses_universal_actions_on_cards_before_1_4() -> None:
    action = {"type": "Action.Execute", "title": "Friday", "verb": "relay_choice", "data": {}}
    content = {"type": "AdaptiveCard", "version": "1.3", "body": [], "actions": [action]}
    activity: dict[str, Any] = {"type": "message", "attachments": [{"contentType": CARD, "content": content}]}
    refused = activity_problem(activity)
    assert refused is not None and refused[0] == 400 and "1.4" in refused[1]["error"]["message"]
    activity["attachments"][0]["content"] = content | {"version": "1.4"}
    assert activity_problem(activity) is None


@pytest.mark.parametrize(
    ("result", "status"),
    [
        (Result(Outcome.DELIVERED), 200),
        (Result(Outcome.DUPLICATE), 200),
        (Result(Outcome.FAILED, Reason.PLATFORM_REJECTED), 500),
        (Result(Outcome.RETRY, Reason.DEADLINE_EXCEEDED, retry_after=2), 503),
        (Result(Outcome.OVERLOADED), 503),
    ],
)
def test_every_outcome_is_an_invoke_answer_teams_takes(result: Result, status: int) -> None:
    body = invoke_answer(result, FRIDAY)
    assert invoke_problem(200, body) is None and body["statusCode"] == status
    assert (body["type"] == CARD) is (status == 200)


def test_the_fake_refuses_malformed_invoke_answers() -> None:
    assert invoke_problem(200, {"status": "delivered"}) is not None
    assert invoke_problem(503, invoke_answer(Result(Outcome.DELIVERED), FRIDAY)) is not None
    assert invoke_problem(200, {"statusCode": 200, "type": CARD, "value": {"type": "nope"}}) is not None


async def test_a_stale_second_click_on_an_answered_card_is_not_relayed(setup: Setup) -> None:
    activity_id, card = await asked(setup)
    seen = handed_to(setup.relay)
    first = await invoked(setup, execute(setup.service, activity_id, card, "Friday"))
    assert first["value"] == answered(FRIDAY)
    stale = await invoked(setup, execute(setup.service, activity_id, card, "Tomorrow"))
    assert (stale["statusCode"], stale["type"]) == (200, CARD) and stale["value"] == already_answered()
    data = {"relay_choice": "slot-tomorrow", "relay_title": "Tomorrow"}
    old = {"type": "AdaptiveCard", "version": "1.2", "body": [], "actions": [
        {"type": "Action.Submit", "title": "Tomorrow", "data": data}]}  # fmt: skip
    resp = await setup.post(submit(setup.service, activity_id, {"contentType": CARD, "content": old}, "Tomorrow"))
    assert resp.status == 200 and (await resp.json())["status"] == "duplicate"
    assert [m.choice for m in seen] == [FRIDAY], "one choice per card"
