"""The fake Bot Connector: activity checks, Adaptive Card submits and messageReaction activities."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Any

CARD = "application/vnd.microsoft.card.adaptive"
USER = {"id": "29:1AbCdEfPersonalUser", "name": "Jane Doe", "aadObjectId": "6f1e0000-0000-4000-8000-0000000000aa"}
CHAT = {"conversationType": "personal", "tenantId": "72f9aaaa-0000-4000-8000-000000000001", "id": "a:1XyZPersonalChat"}
BOT = {"id": "28:5f0c2b7e-0000-4000-8000-00000000b07", "name": "CRM Relay"}
ACTIVITY_TYPES = frozenset(("message", "typing", "endOfConversation", "event", "invoke", "messageReaction"))
_ids = itertools.count(1736935900001)


def _bad(message: str) -> tuple[int, dict[str, Any]]:
    return 400, {"error": {"code": "BadArgument", "message": message}}


def _card_problem(content: Any) -> str | None:
    if not isinstance(content, dict) or content.get("type") != "AdaptiveCard" or not content.get("version"):
        return "Unknown attachment type or malformed card"
    for action in content.get("actions") or ():
        kind = action.get("type") if isinstance(action, dict) else None
        if kind not in (
            "Action.Submit",
            "Action.Execute",
            "Action.OpenUrl",
            "Action.ShowCard",
            "Action.ToggleVisibility",
        ):
            return f"Unknown action type {kind}"
        if kind == "Action.Execute" and _version(content) < (1, 4):
            return "Action.Execute needs card version 1.4 or later"
        if kind == "Action.OpenUrl" and not str(action.get("url", "")).startswith(("https://", "http://")):
            return "Action.OpenUrl needs an absolute url"
        if not isinstance(action.get("title"), str):
            return "action title must be a string"
    for element in content.get("body") or ():
        if isinstance(element, dict) and element.get("type") == "Input.ChoiceSet":
            rows = element.get("choices")
            if not element.get("id") or not isinstance(rows, list) or not rows:
                return "Input.ChoiceSet needs an id and choices"
    return None


def _version(content: dict[str, Any]) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in str(content.get("version")).split("."))
    except ValueError:
        return (0,)


def activity_problem(body: Any) -> tuple[int, dict[str, Any]] | None:
    """The 400 the Bot Connector answers for an activity it cannot take, or None."""
    if not isinstance(body, dict) or body.get("type") not in ACTIVITY_TYPES:
        return _bad("Unknown activity type")
    for att in body.get("attachments") or ():
        if isinstance(att, dict) and att.get("contentType") == CARD and (problem := _card_problem(att.get("content"))):
            return _bad(problem)
    return None


def _from_user(service: str, **more: Any) -> dict[str, Any]:
    return {
        "id": str(next(_ids)),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "serviceUrl": service,
        "channelId": "msteams",
        "from": USER,
        "conversation": CHAT,
        "recipient": BOT,
        "locale": "en-US",
        "channelData": {"tenant": {"id": CHAT["tenantId"]}, "source": {"name": "message"}},
        **more,
    }


def submit(
    service: str, card_activity: str, card: dict[str, Any], title: str, picked: str | None = None
) -> dict[str, Any]:
    """The message activity Teams posts when the user presses the Action.Submit titled `title` on the card sent
    as `card_activity`: `value` is the action's data merged with the card's inputs (`picked` for a choice set);
    a messageBack action (`data.msteams`) sends its `text` and its own `value` instead."""
    content = card["content"]
    action = next(a for a in content["actions"] if a["title"] == title)
    value = dict(action.get("data") or {})
    back = value.pop("msteams", None)
    more = {"text": back.get("text", "")} if isinstance(back, dict) and back.get("type") == "messageBack" else {}
    if more:
        value = dict(back.get("value") or {})
    for element in content.get("body") or ():
        if element.get("type") == "Input.ChoiceSet" and picked is not None:
            value[element["id"]] = picked
    return _from_user(service, type="message", replyToId=card_activity, value=value, **more)


def reaction(service: str, target: str, added: Sequence[str] = (), removed: Sequence[str] = ()) -> dict[str, Any]:
    """The messageReaction activity for the user adding or removing reactions on the message `target`."""
    more: dict[str, Any] = {"type": "messageReaction", "replyToId": target}
    if added:
        more["reactionsAdded"] = [{"type": t} for t in added]
    if removed:
        more["reactionsRemoved"] = [{"type": t} for t in removed]
    return _from_user(service, **more)


def execute(
    service: str, card_activity: str, card: dict[str, Any], title: str, picked: str | None = None
) -> dict[str, Any]:
    """The invoke activity Teams posts when the user presses the Action.Execute titled `title` on the card sent as
    `card_activity` (Universal Actions): `value.action` carries the verb and the data merged with the inputs."""
    content = card["content"]
    action = next(a for a in content["actions"] if a["title"] == title)
    assert action["type"] == "Action.Execute", "only an Action.Execute sends an adaptiveCard/action invoke"
    data = dict(action.get("data") or {})
    for element in content.get("body") or ():
        if element.get("type") == "Input.ChoiceSet" and picked is not None:
            data[element["id"]] = picked
    value = {"action": {"type": "Action.Execute", "title": title, "verb": action["verb"], "data": data}}
    return _from_user(
        service, type="invoke", name="adaptiveCard/action", replyToId=card_activity, value=value | {"trigger": "manual"}
    )


def invoke_problem(status: int, body: Any) -> str | None:
    """Why Teams would not take an answer to an adaptiveCard/action invoke (it shows the user an error), or None:
    HTTP 200 and a body with `statusCode`, `type` and `value`: a card (200), a message, or an error (4xx/5xx)."""
    if status != 200 or not isinstance(body, dict) or not isinstance(body.get("statusCode"), int):
        return "the invoke answer is HTTP 200 with a statusCode"
    code, kind, value = body["statusCode"], body.get("type"), body.get("value")
    if code == 200 and kind == CARD:
        return _card_problem(value)
    if code == 200 and kind == "application/vnd.microsoft.activity.message":
        return None if isinstance(value, str) else "a message answer's value is a string"
    if code >= 400 and kind == "application/vnd.microsoft.error":
        ok = isinstance(value, dict) and isinstance(value.get("code"), str) and isinstance(value.get("message"), str)
        return None if ok else "an error answer's value has a code and a message"
    return f"statusCode {code} with type {kind} is not an invoke answer"
