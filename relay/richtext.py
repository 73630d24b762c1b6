"""Canonical rich text: a list of styled spans that every connector renders to its dialect."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Flag, auto

from relay.frozen import fast_init


class Style(Flag):
    """Inline styles a span can carry."""

    NONE = 0
    BOLD = auto()
    ITALIC = auto()
    STRIKE = auto()
    CODE = auto()
    PRE = auto()


@fast_init
@dataclass(frozen=True, slots=True)
class Span:
    """A run of text with one style and an optional link target."""

    text: str
    style: Style = Style.NONE
    href: str | None = None

    def __repr__(self) -> str:
        return f"Span(<{len(self.text)} chars>, {self.style!r})"


@fast_init
@dataclass(frozen=True, slots=True)
class RichText:
    """Styled text; its repr and str never show the content."""

    spans: tuple[Span, ...] = field(default=())

    def __repr__(self) -> str:
        return f"RichText(<{len(self.plain)} chars>)"

    __str__ = __repr__

    def __bool__(self) -> bool:
        spans = self.spans
        return bool(spans[0].text) if len(spans) == 1 else any([s.text for s in spans])

    def __len__(self) -> int:
        return len(self.plain)

    @property
    def plain(self) -> str:
        """The text without styles."""
        if len(self.spans) == 1:
            return self.spans[0].text
        return "".join([s.text for s in self.spans])

    @classmethod
    def of(cls, text: str) -> RichText:
        """Plain text as rich text."""
        return cls((Span(text),)) if text else cls()

    def __add__(self, other: RichText) -> RichText:
        return RichText(_merge(self.spans + other.spans))

    def split(self, limit: int, measure: Callable[[str], int] = len) -> list[RichText]:
        """Split into parts of at most `limit` units, preferring line and word breaks."""
        if measure(self.plain) <= limit:
            return [self]
        text = self.plain
        cuts = _cut_points(text, limit, measure)
        return [self.slice(a, b) for a, b in itertools.pairwise(cuts)]

    def slice(self, start: int, end: int) -> RichText:
        """The spans covering code points [start, end), styles kept."""
        out: list[Span] = []
        pos = 0
        for s in self.spans:
            a, b = pos, pos + len(s.text)
            pos = b
            lo, hi = max(a, start), min(b, end)
            if lo < hi:
                out.append(Span(s.text[lo - a : hi - a], s.style, s.href))
        return RichText(tuple(out))


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram and Teams count."""
    return len(text.encode("utf-16-le")) // 2


def _cut_points(text: str, limit: int, measure: Callable[[str], int]) -> list[int]:
    cuts = [0]
    start = 0
    while measure(text[start:]) > limit:
        hi = start
        lo_units = 0
        while hi < len(text) and lo_units + measure(text[hi]) <= limit:
            lo_units += measure(text[hi])
            hi += 1
        window = text[start:hi]
        brk = max(window.rfind("\n"), window.rfind(" "))
        end = start + brk + 1 if brk > len(window) // 2 else hi
        cuts.append(end)
        start = end
    cuts.append(len(text))
    return cuts


def _merge(spans: Iterable[Span]) -> tuple[Span, ...]:
    out: list[Span] = []
    for s in spans:
        if not s.text:
            continue
        if out and out[-1].style == s.style and out[-1].href == s.href:
            out[-1] = Span(out[-1].text + s.text, s.style, s.href)
        else:
            out.append(s)
    return tuple(out)


_MD_TOKEN = re.compile(
    r"(?P<pre>```(?:[a-zA-Z0-9_+-]*\n)?(?P<pre_body>.*?)```)"
    r"|(?P<code>`(?P<code_body>[^`\n]+)`)"
    r"|(?P<link>\[(?P<link_text>[^\]\n]+)\]\((?P<link_url>https?://[^)\s]+)\))"
    r"|(?P<bold>\*\*(?P<bold_body>.+?)\*\*(?!\*))"
    r"|(?P<strike>~~(?P<strike_body>.+?)~~)"
    r"|(?P<italic>(?<![\w*])[*_](?P<italic_body>[^*_\n]+?)[*_](?![\w*]))",
    re.DOTALL,
)


_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_PUA = 0xE000


def from_markdown(source: str) -> RichText:
    """Parse the small Markdown subset CRMs send: **bold**, *italic*, ~~strike~~, `code`, ```pre```, [t](url);
    a backslash before ASCII punctuation makes it literal (CommonMark), so to_markdown's output round-trips."""
    if "\\" not in source:
        return RichText(_merge(_parse_md(source, Style.NONE, _Escapes(0))))
    escapes = _Escapes(_free_base(source))
    hidden = _MD_ESCAPE.sub(lambda m: escapes.hide(m.group(1)), source)
    return RichText(_merge(_parse_md(hidden, Style.NONE, escapes)))


@dataclass(frozen=True, slots=True)
class _Escapes:
    """Escaped punctuation stands in as private-use characters at `base` while the markup is parsed."""

    base: int

    def hide(self, char: str) -> str:
        return chr(self.base + ord(char))

    def text(self, hidden: str) -> str:
        """Text outside code: an escaped character is itself."""
        return self._back(hidden, "") if self.base else hidden

    def raw(self, hidden: str) -> str:
        """Code and URLs take no escapes: the backslash stays."""
        return self._back(hidden, "\\") if self.base else hidden

    def _back(self, hidden: str, prefix: str) -> str:
        lo, hi = self.base, self.base + 0x80
        return "".join(f"{prefix}{chr(ord(c) - lo)}" if lo <= ord(c) < hi else c for c in hidden)


def _free_base(source: str) -> int:
    """The start of a 128-character private-use block the source does not use."""
    used = {ord(c) >> 7 for c in source if 0xE000 <= ord(c) < 0xF900}
    block = next(b for b in range(_PUA >> 7, 0xF900 >> 7) if b not in used)
    return block << 7


def _parse_md(source: str, outer: Style, esc: _Escapes) -> Iterator[Span]:
    pos = 0
    for m in _MD_TOKEN.finditer(source):
        if m.start() > pos:
            yield Span(esc.text(source[pos : m.start()]), outer)
        kind = m.lastgroup
        if m.group("pre") is not None:
            yield Span(esc.raw(m.group("pre_body")), outer | Style.PRE)
        elif m.group("code") is not None:
            yield Span(esc.raw(m.group("code_body")), outer | Style.CODE)
        elif m.group("link") is not None:
            for s in _parse_md(m.group("link_text"), outer, esc):
                yield Span(s.text, s.style, esc.raw(m.group("link_url")))
        elif m.group("bold") is not None:
            yield from _parse_md(m.group("bold_body"), outer | Style.BOLD, esc)
        elif m.group("strike") is not None:
            yield from _parse_md(m.group("strike_body"), outer | Style.STRIKE, esc)
        elif kind is not None:
            yield from _parse_md(m.group("italic_body"), outer | Style.ITALIC, esc)
        pos = m.end()
    if pos < len(source):
        yield Span(esc.text(source[pos:]), outer)


_MARKS = ((Style.BOLD, "**"), (Style.ITALIC, "*"), (Style.STRIKE, "~~"))


def to_markdown(text: RichText) -> str:
    """Render to CommonMark-style Markdown (the canonical form CRMs receive), nesting styles properly."""
    out: list[str] = []
    stack: list[tuple[Style, str]] = []

    def close_to(depth: int) -> None:
        while len(stack) > depth:
            out.append(stack.pop()[1])

    for s in text.spans:
        if s.style is Style.NONE and not s.href:
            close_to(0)
            out.append(_md_escape(s.text))
            continue
        if s.href or Style.CODE in s.style or Style.PRE in s.style:
            close_to(0)
            out.append(_md_atom(s))
            continue
        want = [m for m in _MARKS if m[0] in s.style]
        keep = 0
        while keep < len(stack) and keep < len(want) and stack[keep] == want[keep]:
            keep += 1
        close_to(keep)
        for mark in want[keep:]:
            out.append(mark[1])
            stack.append(mark)
        out.append(_md_escape(s.text))
    close_to(0)
    return "".join(out)


def _md_atom(s: Span) -> str:
    if Style.PRE in s.style:
        return f"```\n{s.text}\n```"
    body = f"`{s.text}`" if Style.CODE in s.style else _md_escape(s.text)
    for flag, mark in _MARKS:
        if flag in s.style and Style.CODE not in s.style:
            body = f"{mark}{body}{mark}"
    return f"[{body}]({s.href})" if s.href else body


_MD_SPECIAL = re.compile(r"([\\`*_~\[\]])")
_MD_CHARS = "\\`*_~[]"


def _md_escape(text: str) -> str:
    for c in _MD_CHARS:
        if c in text:
            return _MD_SPECIAL.sub(r"\\\1", text)
    return text


def to_html(text: RichText) -> str:
    """Render to a small, escaped HTML subset (b, i, s, code, pre, a)."""
    import html

    out: list[str] = []
    for s in text.spans:
        body = html.escape(s.text, quote=False)
        if Style.PRE in s.style:
            body = f"<pre>{body}</pre>"
        elif Style.CODE in s.style:
            body = f"<code>{body}</code>"
        for flag, tag in ((Style.ITALIC, "i"), (Style.BOLD, "b"), (Style.STRIKE, "s")):
            if flag in s.style:
                body = f"<{tag}>{body}</{tag}>"
        if s.href:
            body = f'<a href="{html.escape(s.href, quote=True)}">{body}</a>'
        out.append(body)
    return "".join(out)
