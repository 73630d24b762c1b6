"""Rich text <-> Telegram's plain text plus entities (offsets and lengths in UTF-16 code units)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from telegram import MessageEntity as PtbEntity

from connectors.telegram.schema import MessageEntity
from relay.richtext import RichText, Span, Style, utf16_len

_FLAG_TYPES = ((Style.BOLD, "bold"), (Style.ITALIC, "italic"), (Style.STRIKE, "strikethrough"))
_INBOUND = {
    "bold": Style.BOLD,
    "italic": Style.ITALIC,
    "strikethrough": Style.STRIKE,
    "code": Style.CODE,
    "pre": Style.PRE,
}
_LINK_SCHEMES = ("https://", "http://", "tg://")


@dataclass(frozen=True, slots=True)
class Entity:
    """One Telegram message entity; `url` only for text_link."""

    type: str
    offset: int
    length: int
    url: str | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"type": self.type, "offset": self.offset, "length": self.length}
        if self.url is not None:
            out["url"] = self.url
        return out


def _span_entities(span: Span, offset: int, length: int) -> list[Entity]:
    """Entities for one span, all covering the same range so they nest by construction."""
    if Style.PRE in span.style:
        return [Entity("pre", offset, length)]
    href = span.href if span.href and span.href.startswith(_LINK_SCHEMES) else None
    out = [Entity("text_link", offset, length, href)] if href else []
    if Style.CODE in span.style and not href:
        return [Entity("code", offset, length)]
    out += [Entity(kind, offset, length) for flag, kind in _FLAG_TYPES if flag in span.style]
    return out


def render(text: RichText) -> tuple[str, list[Entity]]:
    """The plain text and the entities that style it; nothing to escape, any input is valid."""
    plain: list[str] = []
    entities: list[Entity] = []
    offset = 0
    for span in text.spans:
        if not span.text:
            continue
        length = utf16_len(span.text)
        if span.text.strip():
            entities += _span_entities(span, offset, length)
        plain.append(span.text)
        offset += length
    return "".join(plain), entities


def _utf16_to_index(text: str) -> list[int]:
    """For every UTF-16 offset 0..len, the code point index it falls on (or just after)."""
    if text.isascii() or max(map(ord, text)) < 0x10000:
        return list(range(len(text) + 1))
    table: list[int] = []
    for i, ch in enumerate(text):
        table.extend((i, i) if ord(ch) > 0xFFFF else (i,))
    table.append(len(text))
    return table


def parse(text: str, entities: Iterable[tuple[str, int, int, str | None]]) -> RichText:
    """Telegram text + (type, offset, length, url) entities as rich text; unknown entity types are plain."""
    entities = list(entities)
    if not text or not entities:
        return RichText.of(text)
    table = _utf16_to_index(text)
    last = len(table) - 1
    styles = [Style.NONE] * len(text)
    links: list[str | None] = [None] * len(text)
    for kind, offset, length, url in entities:
        if offset < 0 or length <= 0:
            continue
        start, end = table[min(offset, last)], table[min(offset + length, last)]
        for i in range(start, end):
            if kind in _INBOUND:
                styles[i] |= _INBOUND[kind]
            elif kind == "text_link" and url:
                links[i] = url
    spans: list[Span] = []
    begin = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or styles[i] != styles[begin] or links[i] != links[begin]:
            spans.append(Span(text[begin:i], styles[begin], links[begin]))
            begin = i
    return RichText(tuple(spans))


def fits(text: RichText, limit: int) -> bool:
    """True if the text is at most `limit` UTF-16 units (Telegram's caption and message limits)."""
    return utf16_len(text.plain) <= limit


def entity_tuples(items: list[MessageEntity] | None) -> list[tuple[str, int, int, str | None]]:
    """(type, offset, length, url) from the Bot API's entity objects; malformed ones are left out."""
    out: list[tuple[str, int, int, str | None]] = []
    for e in items if isinstance(items, list) else ():
        if not isinstance(e, dict):
            continue
        kind, offset, length, url = e.get("type"), e.get("offset"), e.get("length"), e.get("url")
        if isinstance(kind, str) and type(offset) is int and type(length) is int:
            out.append((kind, offset, length, url if isinstance(url, str) else None))
    return out


def ptb_entities(items: list[Entity]) -> list[PtbEntity] | None:
    """The entities as python-telegram-bot objects for a send (None for none)."""
    return [PtbEntity(e.type, e.offset, e.length, url=e.url) for e in items] or None
