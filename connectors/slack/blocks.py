"""Block Kit choices out, interaction payloads in, emoji to reaction names: apart, as convert.py is near 300 lines."""

from __future__ import annotations

from typing import Any

from connectors.slack.convert import message_id
from connectors.slack.mrkdwn import EMOJI
from relay.errors import DeliveryError
from relay.interact import Choice, Choices, ChoiceStyle
from relay.model import Address, Kind, Message, Party
from relay.reasons import Reason

SECTION_MAX = 3000
LABEL_MAX = 75
PLACEHOLDER_MAX = 150
BUTTON_VALUE_MAX = 2000
OPTION_VALUE_MAX = 150
MAX_BUTTONS = 25
MAX_OPTIONS = 100
CONTEXT_MAX = 3000
ACTION_PREFIX = "relay_choice"
CHOICES_BLOCK = "relay_choices"
NAMES = {emoji.replace("\ufe0f", ""): name for name, emoji in reversed(EMOJI.items())}


def _plain(text: str, limit: int = LABEL_MAX) -> dict[str, Any]:
    return {"type": "plain_text", "text": text if len(text) <= limit else text[: limit - 1] + "…", "emoji": True}


def _value(choice: Choice, limit: int) -> str:
    if not 0 < len(choice.id) <= limit:
        raise DeliveryError(Reason.UNSUPPORTED, detail=f"choice_id_over_{limit}_chars")
    return choice.id


def _button(n: int, choice: Choice, style: ChoiceStyle) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": f"{ACTION_PREFIX}_{n}", "text": _plain(choice.title)}
    if style is ChoiceStyle.URL:
        if not choice.url or not choice.url.startswith(("https://", "http://")):
            raise DeliveryError(Reason.UNSUPPORTED, detail="url_button_without_http_url")
        return button | {"url": choice.url}
    return button | {"value": _value(choice, BUTTON_VALUE_MAX)}


def _select(choices: Choices) -> dict[str, Any]:
    options = []
    for c in choices.items:
        option: dict[str, Any] = {"text": _plain(c.title), "value": _value(c, OPTION_VALUE_MAX)}
        if c.description:
            option["description"] = _plain(c.description)
        options.append(option)
    label = _plain(choices.button or "Choose…", PLACEHOLDER_MAX)
    return {"type": "static_select", "action_id": ACTION_PREFIX, "placeholder": label, "options": options}


def choice_blocks(text: str, choices: Choices) -> list[dict[str, Any]]:
    """The message as blocks: its mrkdwn in sections of at most 3000 characters, then one actions block with
    a button per choice (links as url buttons) or, for a list, one static_select."""
    limit = MAX_OPTIONS if choices.style is ChoiceStyle.LIST else MAX_BUTTONS
    if not 0 < len(choices.items) <= limit:
        raise DeliveryError(Reason.UNSUPPORTED, detail="too_many_choices")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[i : i + SECTION_MAX]}}
        for i in range(0, len(text), SECTION_MAX)
    ]
    if choices.style is ChoiceStyle.LIST:
        elements = [_select(choices)]
    else:
        elements = [_button(n, c, choices.style) for n, c in enumerate(choices.items)]
    return [*blocks, {"type": "actions", "block_id": CHOICES_BLOCK, "elements": elements}]


def fallback(text: str, choices: Choices) -> str:
    """The notification text of a message with choices (Slack shows the blocks; this is what a push shows)."""
    return text or choices.button or " / ".join(c.title for c in choices.items)


def reaction_name(emoji: str | None) -> str | None:
    """The Slack reaction name for an emoji character (or a `:name:` the CRM gave); None when not known."""
    if not emoji:
        return None
    if len(emoji) > 2 and emoji[0] == emoji[-1] == ":":
        return emoji[1:-1]
    return NAMES.get(emoji.replace("\ufe0f", ""))


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def picked(payload: dict[str, Any]) -> Choice | None:
    """The choice in a block_actions payload: a relay button's value or the option chosen in its select."""
    for action in payload.get("actions") or ():
        action = _obj(action)
        if not str(action.get("action_id", "")).startswith(ACTION_PREFIX):
            continue
        if action.get("type") == "button" and (value := _str(action.get("value"))):
            return Choice(value, _str(_obj(action.get("text")).get("text")) or value)
        option = _obj(action.get("selected_option"))
        if action.get("type") == "static_select" and (value := _str(option.get("value"))):
            return Choice(value, _str(_obj(option.get("text")).get("text")) or value)
    return None


def where(payload: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """(channel, ts, thread) of the message whose buttons were used."""
    container, msg = _obj(payload.get("container")), _obj(payload.get("message"))
    channel = _str(container.get("channel_id")) or _str(_obj(payload.get("channel")).get("id"))
    ts = _str(container.get("message_ts")) or _str(msg.get("ts"))
    if channel is None or ts is None or container.get("type", "message") != "message":
        return None
    thread = _str(container.get("thread_ts")) or _str(msg.get("thread_ts"))
    return channel, ts, thread if thread != ts else None


def user_of(payload: dict[str, Any]) -> str | None:
    """The Slack user id who used the buttons."""
    return _str(_obj(payload.get("user")).get("id"))


def choice_message(payload: dict[str, Any], instance: str, sender: Party | None) -> Message | None:
    """A block_actions payload as the customer's reply to the message with the buttons, carrying the choice;
    None for other interactions and for url buttons (the link opened; nothing to relay)."""
    found, place = picked(payload), where(payload)
    if payload.get("type") != "block_actions" or found is None or place is None:
        return None
    channel, ts, thread = place
    stamp = next((_str(_obj(a).get("action_ts")) for a in payload.get("actions") or ()), None) or ts
    return Message(
        kind=Kind.TEXT,
        id=message_id(channel, f"{stamp}:a"),
        origin=instance,
        conversation=Address(instance, channel, thread),
        sender=sender,
        ref=message_id(channel, ts),
        choice=found,
        event_id=f"action:{channel}:{stamp}:{user_of(payload)}",
    )


def _relay_actions(block: Any) -> bool:
    block = _obj(block)
    if block.get("type") != "actions":
        return False
    ids = (str(_obj(e).get("action_id", "")) for e in block.get("elements") or ())
    return block.get("block_id") == CHOICES_BLOCK or any(i.startswith(ACTION_PREFIX) for i in ids)


def answered(payload: dict[str, Any], title: str) -> dict[str, Any] | None:
    """chat.update arguments for the message whose choice was picked: its text and other blocks kept, the relay's
    actions block replaced by a context line with the pick; None when the payload does not carry the message."""
    place, shown = where(payload), _obj(payload.get("message"))
    kept = shown.get("blocks")
    if place is None or not isinstance(kept, list):
        return None
    pick = _plain(f"✓ {title}", CONTEXT_MAX)
    blocks = [b for b in kept if not _relay_actions(b)] + [{"type": "context", "elements": [pick]}]
    return {"channel": place[0], "ts": place[1], "text": _str(shown.get("text")) or pick["text"], "blocks": blocks}
