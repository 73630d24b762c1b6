"""The fake Slack's Block Kit checks, block_actions payloads and reactions.*, per Slack's reference pages."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

BOT_USER = "U0RELAYBOT"
CUSTOMER = "U2147483697"
EMOJI_NAMES = frozenset(
    [
        "thumbsup",
        "+1",
        "thumbsdown",
        "-1",
        "heart",
        "smile",
        "grinning",
        "joy",
        "tada",
        "white_check_mark",
        "eyes",
        "pray",
        "fire",
        "ok_hand",
        "clap",
        "rocket",
        "100",
        "slightly_smiling_face",
        "heart_eyes",
        "thinking_face",
        "wave",
        "raised_hands",
        "muscle",
        "sparkles",
        "star",
        "x",
        "warning",
    ]
)
TEXTS = ("plain_text", "mrkdwn")
_actions = itertools.count(1)


def _too_long(where: str, limit: int) -> str:
    return f"must be less than {limit + 1} characters [json-pointer:{where}]"


def _text(obj: Any, where: str, limit: int, kinds: tuple[str, ...] = ("plain_text",)) -> str | None:
    if not isinstance(obj, dict) or obj.get("type") not in kinds or not isinstance(obj.get("text"), str):
        return f"must provide an object [json-pointer:{where}]"
    return _too_long(f"{where}/text", limit) if len(obj["text"]) > limit or not obj["text"] else None


def _element(e: Any, where: str) -> str | None:
    if not isinstance(e, dict) or len(str(e.get("action_id", ""))) > 255:
        return f"invalid element [json-pointer:{where}]"
    if e.get("type") == "button":
        if (problem := _text(e.get("text"), f"{where}/text", 75)) is not None:
            return problem
        if "value" in e and not 0 < len(str(e["value"])) <= 2000:
            return _too_long(f"{where}/value", 2000)
        return _too_long(f"{where}/url", 3000) if len(str(e.get("url", ""))) > 3000 else None
    if e.get("type") == "static_select":
        options = e.get("options")
        if not isinstance(options, list) or not 0 < len(options) <= 100:
            return f"must provide between 1 and 100 options [json-pointer:{where}/options]"
        for n, o in enumerate(options):
            at = f"{where}/options/{n}"
            if problem := _text(o.get("text"), f"{at}/text", 75):
                return problem
            if not 0 < len(str(o.get("value", ""))) <= 150:
                return _too_long(f"{at}/value", 150)
        return _text(e.get("placeholder"), f"{where}/placeholder", 150)
    return f"unsupported element type [json-pointer:{where}/type]"


def blocks_problem(blocks: Any) -> str | None:
    """Why chat.postMessage would answer `invalid_blocks`, or None."""
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "no more than 50 items allowed [json-pointer:/blocks]"
    for n, block in enumerate(blocks):
        where = f"/blocks/{n}"
        if not isinstance(block, dict):
            return f"must provide an object [json-pointer:{where}]"
        if block.get("type") == "section":
            problem = _text(block.get("text"), f"{where}/text", 3000, ("plain_text", "mrkdwn"))
        elif block.get("type") == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 0 < len(elements) <= 10:
                return f"must provide between 1 and 10 elements [json-pointer:{where}/elements]"
            problem = next(
                (p for i, e in enumerate(elements) if (p := _text(e, f"{where}/elements/{i}", 3000, TEXTS))), None
            )
        elif block.get("type") == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 0 < len(elements) <= 25:
                return f"must provide between 1 and 25 elements [json-pointer:{where}/elements]"
            ids = [e.get("action_id") for e in elements if isinstance(e, dict)]
            if len(ids) != len(set(ids)):
                return f"action_id must be unique [json-pointer:{where}/elements]"
            problem = next((p for i, e in enumerate(elements) if (p := _element(e, f"{where}/elements/{i}"))), None)
        else:
            problem = f"unsupported block type [json-pointer:{where}/type]"
        if problem:
            return problem
    return None


class InteractFake:
    """Mixed into FakeSlack, which keeps `posted` (ts -> the app's own messages, as chat.postMessage or chat.update
    left them), `reacted`, `known` (messages others wrote) and `edit_closed` (ts past the workspace's edit window)."""

    posted: dict[str, dict[str, Any]]
    reacted: dict[tuple[str, str], dict[str, list[str]]]
    known: set[tuple[str, str]]
    edit_closed: set[str]

    def click(self, ts: str, value: str, user: str = CUSTOMER) -> bytes:
        """The form body Slack posts to the Interactivity Request URL when `user` picks `value` (a button's or a
        select option's) on the posted message `ts`."""
        return urlencode({"payload": json.dumps(self.action(ts, value, user))}).encode()

    def action(self, ts: str, value: str, user: str = CUSTOMER) -> dict[str, Any]:
        """The block_actions payload of that pick (as Socket Mode carries it in an interactive envelope)."""
        post = self.posted[ts]
        action: dict[str, Any] = {}
        for block in post["blocks"]:
            for e in block.get("elements", ()):
                base = {"action_id": e["action_id"], "block_id": block.get("block_id", "b"), "type": e["type"]}
                if e.get("value") == value:
                    action = base | {"text": e["text"], "value": value}
                for o in e.get("options", ()):
                    if o["value"] == value:
                        action = base | {"selected_option": o, "placeholder": e["placeholder"]}
        stamp = f"{int(time.time())}.{next(_actions):06d}"
        channel = post["channel"]
        body: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": "dana", "name": "dana", "team_id": "T0CUSTOMER"},
            "api_app_id": "A0RELAY01",
            "token": "deprecated-verification-token",
            "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
            "team": {"id": "T0AB12CD3", "domain": "acme-support"},
            "channel": {"id": channel, "name": "directmessage"},
            "message": {"type": "message", "bot_id": "B0RELAYBOT", "text": post.get("text"), "ts": ts, "user": BOT_USER}
            | {"blocks": post["blocks"]},
            "response_url": "https://hooks.slack.com/actions/T0AB12CD3/1/abcdef",
            "actions": [action | {"action_ts": stamp}],
        }
        return body

    def _target(self, p: dict[str, Any]) -> tuple[str, str] | None:
        key = (str(p.get("channel")), str(p.get("timestamp")))
        return key if key[1] in self.posted or key in self.known else None

    def m_reactions_add(self, p: dict[str, Any]) -> dict[str, Any]:
        key, name = self._target(p), str(p.get("name", ""))
        if key is None:
            return {"ok": False, "error": "message_not_found"}
        if name.split("::", 1)[0] not in EMOJI_NAMES:
            return {"ok": False, "error": "invalid_name"}
        users = self.reacted.setdefault(key, {}).setdefault(name, [])
        if BOT_USER in users:
            return {"ok": False, "error": "already_reacted"}
        users.append(BOT_USER)
        return {"ok": True}

    def m_reactions_remove(self, p: dict[str, Any]) -> dict[str, Any]:
        key = self._target(p)
        if key is None:
            return {"ok": False, "error": "message_not_found"}
        users = self.reacted.get(key, {}).get(str(p.get("name")), [])
        if BOT_USER not in users:
            return {"ok": False, "error": "no_reaction"}
        users.remove(BOT_USER)
        return {"ok": True}

    def m_reactions_get(self, p: dict[str, Any]) -> dict[str, Any]:
        key = self._target(p)
        if key is None:
            return {"ok": False, "error": "message_not_found"}
        found = [{"name": n, "users": u, "count": len(u)} for n, u in self.reacted.get(key, {}).items() if u]
        message = {"type": "message", "ts": key[1], **({"reactions": found} if found else {})}
        return {"ok": True, "type": "message", "channel": key[0], "message": message}

    def _own(self, p: dict[str, Any], verb: str) -> dict[str, Any] | None:
        """Why chat.update or chat.delete refuses this message (not found, not the app's, past the edit window)."""
        channel, ts = str(p.get("channel")), str(p.get("ts"))
        post = self.posted.get(ts)
        if post is not None and post["channel"] == channel:
            return {"ok": False, "error": "edit_window_closed"} if ts in self.edit_closed else None
        if (channel, ts) in self.known:
            return {"ok": False, "error": f"cant_{verb}_message"}
        return {"ok": False, "error": "message_not_found"}

    def m_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        if (refused := self._own(p, "update")) is not None:
            return refused
        if "blocks" in p and (problem := blocks_problem(p["blocks"])):
            return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
        if not p.get("text") and not p.get("blocks"):
            return {"ok": False, "error": "no_text"}
        post = self.posted[p["ts"]]
        post.update({k: p[k] for k in ("text", "blocks") if k in p})
        message = {"type": "message", "bot_id": "B0RELAYBOT", "user": BOT_USER, "text": post.get("text")}
        return {"ok": True, "channel": p["channel"], "ts": p["ts"], "text": post.get("text"), "message": message}

    def m_chat_delete(self, p: dict[str, Any]) -> dict[str, Any]:
        if (refused := self._own(p, "delete")) is not None and refused["error"] != "edit_window_closed":
            return refused
        del self.posted[p["ts"]]
        return {"ok": True, "channel": p["channel"], "ts": p["ts"]}
