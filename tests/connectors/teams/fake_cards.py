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
        if kind not in ("Action.Submit", "Action.OpenUrl", "Action.ShowCard", "Action.ToggleVisibility"):
            return f"Unknown action type {kind}"
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
    as `card_activity`: `value` is the action's data merged with the card's inputs (`picked` for a choice set)."""
    content = card["content"]
    action = next(a for a in content["actions"] if a["title"] == title)
    value = dict(action.get("data") or {})
    for element in content.get("body") or ():
        if element.get("type") == "Input.ChoiceSet" and picked is not None:
            value[element["id"]] = picked
    return _from_user(service, type="message", replyToId=card_activity, value=value)


def reaction(service: str, target: str, added: Sequence[str] = (), removed: Sequence[str] = ()) -> dict[str, Any]:
    """The messageReaction activity for the user adding or removing reactions on the message `target`."""
    more: dict[str, Any] = {"type": "messageReaction", "replyToId": target}
    if added:
        more["reactionsAdded"] = [{"type": t} for t in added]
    if removed:
        more["reactionsRemoved"] = [{"type": t} for t in removed]
    return _from_user(service, **more)
