"""Adaptive Card choices out (Universal Actions), their invokes, submits and reactions in: apart from convert.py."""

from __future__ import annotations

import re
from typing import Any

from connectors.teams.convert import address_of, party_of, sent_at
from relay.connector import Outcome, Result
from relay.errors import BadRequest, DeliveryError
from relay.interact import Choice, Choices, ChoiceStyle
from relay.model import Kind, Message
from relay.reasons import Reason

CARD = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.4"
MAX_ACTIONS = 6
MAX_LIST = 30
CHOICE, TITLE, TITLES = "relay_choice", "relay_title", "relay_titles"
VERB = "relay_choice"
INVOKE = "adaptiveCard/action"
ERROR = "application/vnd.microsoft.error"
REACTIONS = {
    "like": "👍",
    "heart": "❤️",
    "laugh": "😆",
    "surprised": "😮",
    "sad": "😢",
    "angry": "😡",
    "plusOne": "➕",
}
_CODE = re.compile(r"([0-9a-f]{4,6})(?:-([0-9a-f]{4,6}))*(?:_[a-z0-9_]+)?")


def _action(choice: Choice, style: ChoiceStyle) -> dict[str, Any]:
    if style is ChoiceStyle.URL:
        if not choice.url or not choice.url.startswith(("https://", "http://")):
            raise DeliveryError(Reason.UNSUPPORTED, detail="url_button_without_http_url")
        return {"type": "Action.OpenUrl", "title": choice.title, "url": choice.url}
    return {
        "type": "Action.Execute",
        "title": choice.title,
        "verb": VERB,
        "data": {CHOICE: choice.id, TITLE: choice.title},
    }


def card(choices: Choices) -> dict[str, Any]:
    """The Adaptive Card attachment for choices: a Universal Action (Action.Execute, answered by the invoke with
    the card updated) per choice, its data carrying the choice id; Action.OpenUrl for links; and for a list a
    compact Input.ChoiceSet with one Action.Execute button."""
    limit = MAX_LIST if choices.style is ChoiceStyle.LIST else MAX_ACTIONS
    if not 0 < len(choices.items) <= limit:
        raise DeliveryError(Reason.UNSUPPORTED, detail="too_many_choices")
    body: list[dict[str, Any]] = []
    if choices.style is ChoiceStyle.LIST:
        rows = [{"title": c.title, "value": c.id} for c in choices.items]
        picker = {"type": "Input.ChoiceSet", "id": CHOICE, "style": "compact", "isRequired": True, "choices": rows}
        body.append(picker | {"placeholder": choices.button} if choices.button else picker)
        titles = {c.id: c.title for c in choices.items}
        send = {"type": "Action.Execute", "title": choices.button or "Send", "verb": VERB}
        actions = [send | {"data": {TITLES: titles}}]
    else:
        actions = [_action(c, choices.style) for c in choices.items]
    content = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": body, "actions": actions}
    return {"contentType": CARD, "content": content}


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def choice_of(value: Any) -> Choice | None:
    """The choice in an Action.Submit's value or an Action.Execute's data (the card's data, merged with the
    list's input)."""
    data = _obj(value)
    found = _str(data.get(CHOICE))
    if found is None:
        return None
    title = _str(data.get(TITLE)) or _str(_obj(data.get(TITLES)).get(found))
    return Choice(found, title or found)


def emoji(kind: str) -> str:
    """A Teams reaction type as an emoji: the six classic names, or a code such as `1f440_eyes`."""
    if kind in REACTIONS:
        return REACTIONS[kind]
    code = _CODE.fullmatch(kind.lower())
    if code:
        points = code.group(0).split("_", 1)[0].split("-")
        return "".join(chr(int(p, 16)) for p in points if int(p, 16) <= 0x10FFFF)
    return f"({kind})"


def _reaction(activity: dict[str, Any]) -> str | None:
    for item in activity.get("reactionsAdded") or ():
        if _str(_obj(item).get("type")):
            return emoji(item["type"])
    removed = any(_str(_obj(item).get("type")) for item in activity.get("reactionsRemoved") or ())
    return "" if removed else None


def executed(activity: dict[str, Any]) -> Choice | None:
    """The choice in a Universal Action invoke (`adaptiveCard/action`) of a relay card, or None."""
    if activity.get("type") != "invoke" or activity.get("name") != INVOKE:
        return None
    action = _obj(_obj(activity.get("value")).get("action"))
    if action.get("type") != "Action.Execute" or action.get("verb") != VERB:
        return None
    return choice_of(action.get("data"))


def answered(choice: Choice) -> dict[str, Any]:
    """The card that replaces a relay card once its choice was taken: the pick, and no actions."""
    line = {"type": "TextBlock", "text": f"✓ {choice.title}", "wrap": True, "weight": "Bolder"}
    return {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": [line]}


def already_answered() -> dict[str, Any]:
    """The card for a click on a card whose choice was already taken (a stale client): no pick, no actions."""
    line = {"type": "TextBlock", "text": "Already answered.", "wrap": True, "isSubtle": True}
    return {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": [line]}


def invoke_answer(result: Result, choice: Choice) -> dict[str, Any]:
    """The body an `adaptiveCard/action` invoke waits for: the updated card once the CRM took the choice; else
    an error, which leaves the card (and its buttons) as it was for the customer to try again."""
    if result.outcome in (Outcome.DELIVERED, Outcome.DUPLICATE):
        return {"statusCode": 200, "type": CARD, "value": answered(choice)}
    code = (result.reason.value if result.reason else None) or result.outcome.value
    status = 500 if result.acknowledged else 503
    return {"statusCode": status, "type": ERROR, "value": {"code": code, "message": "Not sent; please try again."}}


def to_event(activity: dict[str, Any], instance: str) -> Message | None:
    """A choice: a Universal Action invoke, or (cards sent before) an Action.Submit / messageBack, a message
    activity whose value names a relay choice; both reply to the card's activity. Or a messageReaction (on
    `replyToId`; a removed reaction is an empty one). None for anything else."""
    kind = activity.get("type")
    if kind in ("message", "invoke"):
        found = choice_of(activity.get("value")) if kind == "message" else executed(activity)
        if found is None:
            return None
    elif kind == "messageReaction":
        shown = _reaction(activity)
        if shown is None:
            return None
    else:
        return None
    act_id, target = _str(activity.get("id")), _str(activity.get("replyToId"))
    if act_id is None or target is None:
        raise BadRequest("a card submit or reaction names its activity and the message it is about")
    address = address_of(activity, instance)
    common: dict[str, Any] = {"origin": instance, "conversation": address, "sender": party_of(activity)}
    common |= {"sent_at": sent_at(activity), "ref": target, "event_id": f"{address.chat}:{act_id}"}
    if kind != "messageReaction":
        return Message(kind=Kind.TEXT, id=act_id, choice=found, **common)
    return Message(kind=Kind.REACTION, id=f"{target}:reaction:{act_id}", reaction=shown, **common)
