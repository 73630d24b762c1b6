"""Adaptive Card choices out and submits back, typing, reactions in (and to text out): connector and fake Teams."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from connectors.teams.cards import CARD, emoji, to_event
from relay.interact import Choice, Choices, ChoiceStyle
from relay.model import Address, Kind, Message
from relay.richtext import RichText
from relay.seal import legacy_handle
from tests.connectors.teams.conftest import Setup
from tests.connectors.teams.fake_cards import execute, invoke_problem, reaction, submit
from tests.connectors.teams.fakes import payload
from tests.support.spy import handed_to

PERSONAL = "a:1XyZPersonalChat"
SLOTS = Choices(ChoiceStyle.BUTTONS, (Choice("slot-tomorrow", "Tomorrow"), Choice("slot-friday", "Friday")))


def crm_says(setup: Setup, kind: Kind = Kind.TEXT, **fields: Any) -> Message:
    ana = Address("teams", PERSONAL, handle=legacy_handle(setup.service, "personal"))
    return Message(kind=kind, id=fields.pop("id", "crm-ask-1"), origin="inbox", conversation=ana, **fields)


def card_of(setup: Setup) -> tuple[str, dict[str, Any]]:
    """(activity id, card attachment) of the last activity the bot posted."""
    sent = setup.cloud.posted[-1]
    assert sent.body is not None
    (card,) = [a for a in sent.body.get("attachments", ()) if a["contentType"] == CARD]
    return f"act-{len(setup.cloud.sent)}", card


async def invoked(setup: Setup, activity: dict[str, Any]) -> dict[str, Any]:
    """Post an adaptiveCard/action invoke; its answer's body, once the fake Teams found it well-formed."""
    resp = await setup.post(activity)
    body: dict[str, Any] = await resp.json()
    assert invoke_problem(resp.status, body) is None, (resp.status, body)
    return body


async def test_buttons_go_out_as_universal_actions_and_the_click_is_answered_with_the_card_updated(
    setup: Setup,
) -> None:
    result = await setup.relay.engine.deliver(
        crm_says(setup, text=RichText.of("When shall we deliver?"), choices=SLOTS)
    )
    assert result.outcome.value == "delivered", result
    activity_id, card = card_of(setup)
    assert setup.cloud.posted[-1].body is not None and setup.cloud.posted[-1].body["text"] == "When shall we deliver?"
    assert card["content"]["type"] == "AdaptiveCard" and card["content"]["version"] == "1.4"
    assert [(a["type"], a["title"], a["verb"], a["data"]["relay_choice"]) for a in card["content"]["actions"]] == [
        ("Action.Execute", "Tomorrow", "relay_choice", "slot-tomorrow"),
        ("Action.Execute", "Friday", "relay_choice", "slot-friday"),
    ]
    seen = handed_to(setup.relay)
    tap = execute(setup.service, activity_id, card, "Friday")
    answer = await invoked(setup, tap)
    assert (answer["statusCode"], answer["type"]) == (200, CARD)
    assert answer["value"]["body"] == [{"type": "TextBlock", "text": "✓ Friday", "wrap": True, "weight": "Bolder"}]
    assert "actions" not in answer["value"] and answer["value"]["version"] == "1.4"
    (got,) = seen
    assert got.choice == Choice("slot-friday", "Friday") and got.ref == "crm-ask-1"
    assert got.text.plain == "Friday" and got.sender is not None and got.sender.name == "Jane Doe"
    assert await invoked(setup, tap) == answer and len(seen) == 1


async def test_a_card_sent_before_with_action_submit_still_comes_back_with_the_choice(setup: Setup) -> None:
    await setup.relay.engine.deliver(crm_says(setup, text=RichText.of("When shall we deliver?"), choices=SLOTS))
    activity_id, _ = card_of(setup)
    actions = [
        {"type": "Action.Submit", "title": c.title, "data": {"relay_choice": c.id, "relay_title": c.title}}
        for c in SLOTS.items
    ]
    old = {"contentType": CARD, "content": {"type": "AdaptiveCard", "version": "1.4", "body": [], "actions": actions}}
    seen = handed_to(setup.relay)
    tap = submit(setup.service, activity_id, old, "Friday")
    resp = await setup.post(tap)
    assert resp.status == 200 and (await resp.json())["status"] == "delivered", await resp.text()
    (got,) = seen
    assert got.choice == Choice("slot-friday", "Friday") and got.ref == "crm-ask-1"
    assert got.text.plain == "Friday" and got.sender is not None and got.sender.name == "Jane Doe"
    assert (await (await setup.post(tap)).json())["status"] == "duplicate" and len(seen) == 1


async def test_a_list_is_a_choice_set_and_the_pick_comes_back(setup: Setup) -> None:
    sizes = Choices(ChoiceStyle.LIST, tuple(Choice(f"size-{n}", n) for n in "SML"), button="Pick a size")
    await setup.relay.engine.deliver(crm_says(setup, text=RichText.of("Which size?"), choices=sizes))
    activity_id, card = card_of(setup)
    (picker,) = card["content"]["body"]
    assert picker["type"] == "Input.ChoiceSet" and [c["value"] for c in picker["choices"]] == [
        "size-S",
        "size-M",
        "size-L",
    ]
    seen = handed_to(setup.relay)
    answer = await invoked(setup, execute(setup.service, activity_id, card, "Pick a size", picked="size-M"))
    assert answer["value"]["body"][0]["text"] == "✓ M" and "actions" not in answer["value"]
    assert [(m.choice, m.ref) for m in seen] == [(Choice("size-M", "M"), "crm-ask-1")]


async def test_links_are_open_url_actions_and_more_buttons_than_teams_shows_become_numbered_text(setup: Setup) -> None:
    links = Choices(ChoiceStyle.URL, (Choice("track", "Track parcel", url="https://t.example/p/1"),))
    await setup.relay.engine.deliver(crm_says(setup, text=RichText.of("Shipped"), choices=links))
    _, card = card_of(setup)
    assert card["content"]["actions"] == [
        {"type": "Action.OpenUrl", "title": "Track parcel", "url": "https://t.example/p/1"}
    ]
    seven = Choices(ChoiceStyle.BUTTONS, tuple(Choice(str(n), f"Option {n}") for n in range(1, 8)))
    await setup.relay.engine.deliver(crm_says(setup, id="crm-ask-2", text=RichText.of("Pick"), choices=seven))
    body = setup.cloud.posted[-1].body
    assert body is not None and "attachments" not in body and body["text"].endswith("6. Option 6\n\n7. Option 7")


async def test_typing_reaches_the_conversation(setup: Setup) -> None:
    result = await setup.relay.engine.deliver(crm_says(setup, Kind.TYPING))
    assert result.outcome.value == "delivered", result
    (sent,) = setup.cloud.posted
    assert (sent.method, sent.conversation, sent.reply_to, sent.body) == ("POST", PERSONAL, None, {"type": "typing"})


async def test_customer_reactions_and_their_removal_reach_the_crm(setup: Setup) -> None:
    await setup.relay.engine.deliver(crm_says(setup, text=RichText.of("Your parcel left the warehouse")))
    target = f"act-{len(setup.cloud.sent)}"
    seen = handed_to(setup.relay)
    for added, removed in ((["like"], []), (["1f440_eyes"], []), ([], ["like"])):
        resp = await setup.post(reaction(setup.service, target, added, removed))
        assert resp.status == 200 and (await resp.json())["status"] == "delivered"
    assert [(m.kind, m.reaction, m.ref) for m in seen] == [
        (Kind.REACTION, "👍", "crm-ask-1"),
        (Kind.REACTION, "👀", "crm-ask-1"),
        (Kind.REACTION, "", "crm-ask-1"),
    ]


async def test_an_agent_reaction_becomes_text_once(setup: Setup) -> None:
    await setup.relay.engine.deliver(crm_says(setup, text=RichText.of("Thanks!")))
    assert setup.relay.connectors["teams"].capabilities.reactions is False
    await setup.relay.engine.deliver(crm_says(setup, Kind.REACTION, id="crm-react-1", ref="crm-ask-1", reaction="👍"))
    _, second = setup.cloud.posted
    assert second.body is not None and second.body["text"] == "(reacted 👍)" and second.reply_to is None
    assert len(setup.cloud.sent) == 2


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("card_submit", (Kind.TEXT, "slot-friday", None)),
        ("card_execute", (Kind.TEXT, "slot-friday", None)),
        ("message_reaction", (Kind.REACTION, None, "👍")),
        ("message_reaction_removed", (Kind.REACTION, None, "")),
    ],
)
def test_recorded_activities_convert(name: str, expected: tuple[Kind, str | None, str | None]) -> None:
    m = to_event(payload(name), "teams")
    assert m is not None and m.ref == "1736935800777" and m.sender is not None and m.sender.name == "Jane Doe"
    assert (m.kind, m.choice.id if m.choice else None, m.reaction) == expected


def test_reaction_types_as_emoji() -> None:
    assert [emoji(t) for t in ("like", "heart", "laugh", "surprised", "sad", "angry")] == [
        "👍",
        "❤️",
        "😆",
        "😮",
        "😢",
        "😡",
    ]
    assert emoji("1f440_eyes") == "👀" and emoji("1f44d-1f3fd_thumbsuplightskin") == "👍🏽" and emoji("zzz") == "(zzz)"


async def test_cards_submits_and_reactions_leave_no_content_in_logs(
    setup: Setup, canary: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pick = Choices(ChoiceStyle.BUTTONS, (Choice(f"id-{canary}", f"Title {canary}"),))
    await setup.relay.engine.deliver(crm_says(setup, text=RichText.of(f"Ask {canary}"), choices=pick))
    activity_id, card = card_of(setup)
    seen = handed_to(setup.relay)
    assert (await setup.post(execute(setup.service, activity_id, card, f"Title {canary}"))).status == 200
    assert (await setup.post(reaction(setup.service, activity_id, ["heart"]))).status == 200
    assert [m.kind for m in seen] == [Kind.TEXT, Kind.REACTION] and seen[0].choice is not None
    assert canary not in " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
