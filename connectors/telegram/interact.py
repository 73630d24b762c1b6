"""Inline keyboards, callback queries and reactions: apart from convert.py, which would pass 300 lines."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReactionTypeEmoji
from telegram.constants import InlineKeyboardButtonLimit, InlineKeyboardMarkupLimit, ReactionEmoji

from connectors.telegram.convert import Accept, address_of, party, platform_id
from relay.errors import DeliveryError
from relay.interact import Choice, Choices, ChoiceStyle
from relay.model import Kind, Message, Party
from relay.reasons import Reason

MAX_DATA = int(InlineKeyboardButtonLimit.MAX_CALLBACK_DATA)
MAX_BUTTONS = int(InlineKeyboardMarkupLimit.TOTAL_BUTTON_NUMBER)
PER_ROW = 3
REACTIONS = frozenset(e.value for e in ReactionEmoji)
_URL_SCHEMES = ("https://", "http://", "tg://")


def _button(choice: Choice, style: ChoiceStyle) -> InlineKeyboardButton:
    if style is ChoiceStyle.URL:
        if not choice.url or not choice.url.startswith(_URL_SCHEMES):
            raise DeliveryError(Reason.UNSUPPORTED, detail="url_button_without_http_url")
        return InlineKeyboardButton(choice.title, url=choice.url)
    if not 1 <= len(choice.id.encode()) <= MAX_DATA:
        raise DeliveryError(Reason.UNSUPPORTED, detail=f"choice_id_over_{MAX_DATA}_bytes")
    return InlineKeyboardButton(choice.title, callback_data=choice.id)


def keyboard(choices: Choices) -> InlineKeyboardMarkup:
    """The inline keyboard for choices: reply buttons in rows of three, a list as a column, links as url
    buttons (one per row). A choice id that does not fit `callback_data` (64 bytes) is refused, not cut:
    a cut id would come back as another choice."""
    if not 0 < len(choices.items) <= MAX_BUTTONS:
        raise DeliveryError(Reason.UNSUPPORTED, detail="too_many_choices")
    buttons = [_button(c, choices.style) for c in choices.items]
    width = PER_ROW if choices.style is ChoiceStyle.BUTTONS else 1
    return InlineKeyboardMarkup([buttons[i : i + width] for i in range(0, len(buttons), width)])


def reaction(emoji: str | None) -> list[ReactionTypeEmoji] | None:
    """setMessageReaction's list for an emoji: empty removes the bot's reaction; None when Telegram does not
    offer this emoji as a reaction (the connector sends it as text instead)."""
    if not emoji:
        return []
    found = emoji if emoji in REACTIONS else emoji.replace("\ufe0f", "")
    return [ReactionTypeEmoji(found)] if found in REACTIONS else None


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _title(keyboard: Any, data: str) -> str:
    """The label of the button whose callback_data came back (from the message that carried it)."""
    rows = _obj(keyboard).get("inline_keyboard")
    for row in rows if isinstance(rows, list) else ():
        for button in row if isinstance(row, list) else ():
            if isinstance(button, dict) and button.get("callback_data") == data and isinstance(button.get("text"), str):
                return str(button["text"])
    return data


def _where(msg: Mapping[str, Any], instance: str, accept: Accept) -> tuple[int, Any] | None:
    chat = _obj(msg.get("chat"))
    chat_id, kind = _int(chat.get("id")), chat.get("type")
    if chat_id is None or not isinstance(kind, str) or not accept.allows(kind):
        return None
    return chat_id, address_of(msg, instance, chat_id, kind)


def callback_id(update: Mapping[str, Any]) -> str | None:
    """The id of a callback query (to answer it so the button's spinner stops), if the update is one."""
    query = _obj(update.get("callback_query"))
    found = query.get("id")
    return found if isinstance(found, str) and found else None


def choice_message(update: Mapping[str, Any], instance: str, accept: Accept) -> Message | None:
    """A tap on an inline button: a reply to the message that carried the keyboard, with the choice. None for
    queries without a message (inline mode) or data, and for chats the relay does not carry."""
    query = _obj(update.get("callback_query"))
    msg, data, event = _obj(query.get("message")), query.get("data"), _int(update.get("update_id"))
    mid, qid, sender = _int(msg.get("message_id")), callback_id(update), party(query.get("from"))
    if not isinstance(data, str) or not data or mid is None or qid is None or event is None or sender is None:
        return None
    where = _where(msg, instance, accept)
    if where is None:
        return None
    pid = platform_id(where[0], mid)
    return Message(
        kind=Kind.TEXT,
        id=f"{pid}:choice:{qid}",
        origin=instance,
        conversation=where[1],
        sender=sender,
        ref=pid,
        choice=Choice(data, _title(msg.get("reply_markup"), data)),
        event_id=str(event),
    )


def _shown(items: Any) -> str:
    """The reaction now set: its emoji, a stand-in for custom and paid ones, "" when it was removed."""
    for item in items if isinstance(items, list) else ():
        kind = _obj(item).get("type")
        if kind == "emoji" and isinstance(item.get("emoji"), str):
            return str(item["emoji"])
        if kind == "custom_emoji":
            return "[custom emoji]"
        if kind == "paid":
            return "⭐"
    return ""


def reaction_message(update: Mapping[str, Any], instance: str, accept: Accept) -> Message | None:
    """A `message_reaction` update: the customer's reaction to a message, "" when they took it back."""
    found = _obj(update.get("message_reaction"))
    mid, date, event = _int(found.get("message_id")), _int(found.get("date")), _int(update.get("update_id"))
    where = _where(found, instance, accept)
    if mid is None or date is None or event is None or where is None:
        return None
    actor = _obj(found.get("actor_chat"))
    sender = party(found.get("user"))
    if sender is None and (aid := _int(actor.get("id"))) is not None:
        title = actor.get("title")
        sender = Party(id=str(aid), name=title if isinstance(title, str) else None)
    if sender is None:
        return None
    pid = platform_id(where[0], mid)
    return Message(
        kind=Kind.REACTION,
        id=f"{pid}:reaction:{sender.id}:{event}",
        origin=instance,
        conversation=where[1],
        sender=sender,
        ref=pid,
        reaction=_shown(found.get("new_reaction")),
        sent_at=datetime.fromtimestamp(date, UTC),
        event_id=str(event),
    )
