"""The fake Bot API's inline keyboards, callback queries, reactions and chat actions, as Telegram documents them."""

from __future__ import annotations

import itertools
import time
from typing import Any

from aiohttp import web
from telegram.constants import ReactionEmoji

REACTIONS = frozenset(e.value for e in ReactionEmoji)  # the Bot API's documented ReactionTypeEmoji list
ACTIONS = frozenset(
    [
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    ]
)
OPT_IN = frozenset(("chat_member", "message_reaction", "message_reaction_count"))
CUSTOMER = {"id": 123456789, "is_bot": False, "first_name": "Ana", "last_name": "Lima", "language_code": "de"}
_queries = itertools.count(4_400_000_000_000_000_001)
_updates = itertools.count(583_921_000)


def update_type(update: dict[str, Any]) -> str:
    """The one optional field an update carries besides update_id."""
    return next((k for k in update if k != "update_id"), "")


def wanted(update: dict[str, Any], allowed: list[str] | None) -> bool:
    """Whether Telegram sends this update under `allowed_updates`: an empty or missing list means all but
    chat_member, message_reaction and message_reaction_count, which must be listed by name."""
    kind = update_type(update)
    return kind in allowed if allowed else kind not in OPT_IN


def keyboard_problem(markup: Any) -> str | None:
    """Why Telegram would refuse an inline keyboard, or None."""
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        return "Bad Request: can't parse reply keyboard markup JSON object"
    buttons = [b for r in rows for b in r]
    if len(buttons) > 100 or any(len(r) > 8 for r in rows):
        return "Bad Request: REPLY_MARKUP_TOO_LONG"
    for b in buttons:
        if not isinstance(b, dict) or not isinstance(b.get("text"), str) or not b["text"].strip():
            return "Bad Request: BUTTON_TEXT_INVALID"
        data, url = b.get("callback_data"), b.get("url")
        if (data is None) == (url is None):
            return "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        if data is not None and not (isinstance(data, str) and 1 <= len(data.encode()) <= 64):
            return "Bad Request: BUTTON_DATA_INVALID"
        if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://", "tg://"))):
            return "Bad Request: BUTTON_URL_INVALID"
    return None


class InteractFake:
    """Mixed into FakeTelegram (which holds the state below); `customer_messages` are (chat, message id) of
    messages customers wrote that the bot may react to."""

    queries: set[str]
    customer_messages: set[tuple[int, int]]
    answered: list[dict[str, Any]]
    reactions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    sent: list[dict[str, Any]]

    def _error(self, status: int, description: str) -> web.Response:
        raise NotImplementedError

    def _ok(self, result: Any) -> web.Response:
        raise NotImplementedError

    def _check_chat(self, p: dict[str, Any]) -> web.Response | None:
        raise NotImplementedError

    def tap(self, sent: dict[str, Any], data: str) -> dict[str, Any]:
        """The callback_query update Telegram sends when the customer taps the button with `data` on a message
        the bot sent (its id registered, so answerCallbackQuery accepts it once)."""
        qid = str(next(_queries))
        self.queries.add(qid)
        query = {"id": qid, "from": CUSTOMER, "message": sent["result"], "chat_instance": "-7340912", "data": data}
        return {"update_id": next(_updates), "callback_query": query}

    def reacted(self, chat: int, message_id: int, new: list[str], old: list[str] | None = None) -> dict[str, Any]:
        """The message_reaction update for a customer changing their reaction (`new` empty: removed)."""
        body = {
            "chat": {"id": chat, "type": "private", "first_name": "Ana"},
            "message_id": message_id,
            "user": CUSTOMER,
            "date": int(time.time()),
            "old_reaction": [{"type": "emoji", "emoji": e} for e in old or []],
            "new_reaction": [{"type": "emoji", "emoji": e} for e in new],
        }
        return {"update_id": next(_updates), "message_reaction": body}

    def _check_markup(self, p: dict[str, Any]) -> web.Response | None:
        if p.get("reply_markup") is None:
            return None
        problem = keyboard_problem(p["reply_markup"])
        return self._error(400, problem) if problem else None

    async def m_answerCallbackQuery(self, p: dict[str, Any]) -> web.Response:
        qid = str(p.get("callback_query_id", ""))
        if qid not in self.queries:
            return self._error(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self.queries.discard(qid)
        self.answered.append(p)
        return self._ok(True)

    async def m_setMessageReaction(self, p: dict[str, Any]) -> web.Response:
        problem = self._check_chat(p)
        if problem:
            return problem
        items = p.get("reaction") or []
        if not isinstance(items, list):
            return self._error(400, "Bad Request: can't parse reaction types JSON object")
        if len(items) > 1:
            return self._error(400, "Bad Request: REACTIONS_TOO_MANY")
        for item in items:
            if not isinstance(item, dict) or item.get("type") != "emoji" or item.get("emoji") not in REACTIONS:
                return self._error(400, "Bad Request: REACTION_INVALID")
        ours = {(int(s["chat_id"]), s["result"]["message_id"]) for s in self.sent}
        if (int(p["chat_id"]), int(p.get("message_id", 0))) not in ours | self.customer_messages:
            return self._error(400, "Bad Request: message to react not found")
        self.reactions.append(p)
        return self._ok(True)

    async def m_sendChatAction(self, p: dict[str, Any]) -> web.Response:
        problem = self._check_chat(p)
        if problem:
            return problem
        if p.get("action") not in ACTIONS:
            return self._error(400, "Bad Request: wrong parameter action in request")
        self.actions.append(p)
        return self._ok(True)
