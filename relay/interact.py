"""What a CRM can ask of a messenger beyond text: templates, choices, and the customer's pick."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from relay.frozen import fast_init


class ParamKind(StrEnum):
    """How a template parameter is typed on the platform."""

    TEXT = "text"
    CURRENCY = "currency"
    DATE_TIME = "date_time"
    IMAGE = "image"
    DOCUMENT = "document"
    VIDEO = "video"
    PAYLOAD = "payload"
    URL = "url"


@fast_init
@dataclass(frozen=True, slots=True)
class TemplateParam:
    """One typed template parameter: text for text kinds, a URL for media, a payload or URL suffix for buttons;
    `name` for a template whose variables are named (`{{first_name}}`) rather than numbered."""

    kind: ParamKind
    value: str = field(repr=False)
    fallback: str | None = field(default=None, repr=False)
    name: str | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class TemplateButton:
    """The parameters of one template button, by its position in the approved template."""

    index: int
    sub_type: str
    params: tuple[TemplateParam, ...] = ()


@fast_init
@dataclass(frozen=True, slots=True)
class Template:
    """A pre-approved template by name and language, with the parameters of its header, body and buttons."""

    name: str
    language: str
    header: tuple[TemplateParam, ...] = ()
    body: tuple[TemplateParam, ...] = ()
    buttons: tuple[TemplateButton, ...] = ()


class ChoiceStyle(StrEnum):
    """How choices are offered: reply buttons, a list behind one button, or call-to-action links."""

    BUTTONS = "buttons"
    LIST = "list"
    URL = "url"


@fast_init
@dataclass(frozen=True, slots=True)
class Choice:
    """One option: the id that comes back when the customer picks it, its title, and a URL for link actions."""

    id: str
    title: str = field(repr=False)
    description: str | None = field(default=None, repr=False)
    url: str | None = field(default=None, repr=False)
    section: str | None = field(default=None, repr=False)


@fast_init
@dataclass(frozen=True, slots=True)
class Choices:
    """Options offered with a message's text; `button` labels the list opener where the style needs one."""

    style: ChoiceStyle
    items: tuple[Choice, ...]
    button: str | None = field(default=None, repr=False)


def numbered(choices: Choices) -> str:
    """Choices as the text a target without them shows: one numbered line per option (links spelled out)."""
    lines = []
    for n, c in enumerate(choices.items, 1):
        tail = f" — {c.description}" if c.description else ""
        link = f": {c.url}" if c.url else ""
        lines.append(f"{n}. {c.title}{tail}{link}")
    return "\n".join(lines)
