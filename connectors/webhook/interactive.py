"""The contract's templates and choices (docs/webhook-contract.md), apart from convert.py (which would pass
300 lines with them): the answer models, their conversion to the core's, and what their refusals expect."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from relay.interact import Choice, Choices, ChoiceStyle, ParamKind, Template, TemplateButton, TemplateParam

ParamType = Literal["text", "currency", "date_time", "image", "document", "video", "payload", "url"]


class ParamBody(BaseModel):
    """One typed template parameter: text, an amount (`EUR 12.50`), a date as shown, a media URL, a payload;
    `name` for a template with named variables."""

    model_config = ConfigDict(extra="forbid")
    type: ParamType
    value: str = Field(min_length=1, max_length=4096)
    fallback: str | None = Field(default=None, max_length=1024)
    name: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,100}$")


class ButtonBody(BaseModel):
    """The parameters of one template button, by its position in the approved template."""

    model_config = ConfigDict(extra="forbid")
    index: int = Field(ge=0, le=9)
    sub_type: Literal["quick_reply", "url", "copy_code"]
    parameters: list[ParamBody] = Field(default=[], max_length=1)


class TemplateBody(BaseModel):
    """A pre-approved template by name and language, with header, body and button parameters."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=16)
    header: list[ParamBody] = Field(default=[], max_length=1)
    body: list[ParamBody] = Field(default=[], max_length=60)
    buttons: list[ButtonBody] = Field(default=[], max_length=10)


class ChoiceBody(BaseModel):
    """One option offered: its id comes back in the customer's `choice`."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256)
    title: str = Field(min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=256)
    url: str | None = Field(default=None, pattern=r"^https?://", max_length=2048)
    section: str | None = Field(default=None, max_length=64)


class ChoicesBody(BaseModel):
    """Options offered with the text: reply buttons, a list behind one button, or links."""

    model_config = ConfigDict(extra="forbid")
    style: Literal["buttons", "list", "url"] = "buttons"
    items: list[ChoiceBody] = Field(min_length=1, max_length=100)
    button: str | None = Field(default=None, max_length=64)


class StartBody(BaseModel):
    """What the CRM POSTs to /hooks/<instance>/conversations: a template to a phone number on a messenger."""

    model_config = ConfigDict(extra="forbid")
    channel: str = Field(min_length=1, max_length=64)
    phone: str = Field(pattern=r"^\+?[1-9][0-9]{6,14}$")
    id: str = Field(min_length=1, max_length=256)
    template: TemplateBody


def _param(p: ParamBody) -> TemplateParam:
    return TemplateParam(ParamKind(p.type), p.value, p.fallback, p.name)


def _button(b: ButtonBody) -> TemplateButton:
    return TemplateButton(b.index, b.sub_type, tuple(_param(p) for p in b.parameters))


def template(body: TemplateBody) -> Template:
    """The core's Template of a contract template."""
    return Template(
        name=body.name,
        language=body.language,
        header=tuple(_param(p) for p in body.header),
        body=tuple(_param(p) for p in body.body),
        buttons=tuple(_button(b) for b in body.buttons),
    )


def choices(body: ChoicesBody) -> Choices:
    """The core's Choices of contract choices."""
    items = tuple(Choice(c.id, c.title, c.description, c.url, c.section) for c in body.items)
    return Choices(ChoiceStyle(body.style), items, body.button)


def refusal(body: ChoicesBody) -> str | None:
    """What is wrong with choices the models cannot see: a link option without its URL, repeated ids."""
    if body.style == "url":
        missing = next((i for i, c in enumerate(body.items) if not c.url), None)
        if missing is not None:
            return f'choices.items[{missing}].url: missing; a "url" choice needs its link, e.g. "https://shop.example.com/o/1"'
    ids = [c.id for c in body.items]
    if len(set(ids)) != len(ids):
        return 'choices.items: ids repeat; each option needs its own id, e.g. "yes" and "no"'
    return None


def choice_event(choice: Choice | None) -> dict[str, Any] | None:
    """The `choice` of an event: the option the customer picked."""
    return None if choice is None else {"id": choice.id, "title": choice.title}


_PARAM = ("a typed parameter {type, value}", '{"type": "text", "value": "Ana"}')
EXPECTED: dict[str, tuple[str, str]] = {
    "template": (
        "an object with name, language and header/body/buttons parameters",
        '{"name": "order_update", "language": "en_US", "body": [{"type": "text", "value": "Ana"}]}',
    ),
    "template.name": ("the approved template's name", '"order_update"'),
    "template.language": ("the template's language code", '"en_US"'),
    "template.header": (
        "a list of at most one parameter",
        '[{"type": "image", "value": "https://cdn.example.com/a.png"}]',
    ),
    "template.body": (
        "a list of parameters, in the order of {{1}}, {{2}}… (or each with the `name` of its variable)",
        '[{"type": "text", "value": "Ana"}]',
    ),
    "template.buttons": (
        "a list of {index, sub_type, parameters}",
        '[{"index": 0, "sub_type": "quick_reply", "parameters": [{"type": "payload", "value": "yes"}]}]',
    ),
    "template.buttons.N.index": ("the button's position in the template, 0-9", "0"),
    "template.buttons.N.sub_type": ("quick_reply, url or copy_code", '"url"'),
    "choices": (
        "an object with style and items",
        '{"style": "buttons", "items": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}]}',
    ),
    "choices.style": ("buttons, list or url", '"list"'),
    "choices.items": ("a list of 1 to 100 options {id, title}", '[{"id": "yes", "title": "Yes"}]'),
    "choices.items.N.id": ("a non-empty id of at most 256 characters", '"yes"'),
    "choices.items.N.title": ("a non-empty title of at most 256 characters", '"Yes"'),
    "choices.items.N.url": ("an http(s) URL", '"https://shop.example.com/o/1"'),
    "choices.button": ("the label of the button that opens a list, at most 64 characters", '"Options"'),
    "channel": ("the messenger instance, as in the events' `channel`", '"support_wa"'),
    "phone": ("an international number, digits with an optional leading +", '"+15550001111"'),
    "up_to": ("the id of the last customer message read", '"wamid.HBgM…"'),
}
for _where in ("template.header.N", "template.body.N", "template.buttons.N.parameters.N"):
    EXPECTED[_where] = _PARAM
    EXPECTED[f"{_where}.type"] = ("text, currency, date_time, image, document, video, payload or url", '"text"')
    EXPECTED[f"{_where}.value"] = ("a non-empty string of at most 4096 characters", '"Ana"')
    EXPECTED[f"{_where}.name"] = ("the variable's name: 1 to 100 lowercase letters, digits or _", '"first_name"')
