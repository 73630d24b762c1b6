"""The text of an e-mail: HTML turned into plain text without running or fetching anything, quoted
history and signatures cut off (mail-parser-reply), for every mail connector."""

from __future__ import annotations

import re
from collections.abc import Sequence
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser

MAX_TEXT = 200_000
SKIPPED = frozenset({"script", "style", "head", "title", "template", "noscript", "svg", "math", "object", "iframe"})
BLOCKS = frozenset(
    {"p", "div", "section", "article", "header", "footer", "table", "tr", "ul", "ol", "h1", "h2", "h3", "h4", "h5"}
    | {"h6", "hr", "pre", "blockquote", "address", "center", "dl", "dt", "dd", "form", "fieldset", "main", "nav"}
)
VOID = frozenset({"br", "img", "hr", "meta", "link", "input", "col", "area", "base", "wbr", "source", "track"})
LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pl", "sv", "da", "cs", "ja", "ko", "zh")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANKS = re.compile(r"\n{3,}")


class _Text(HTMLParser):
    """Collects the visible text of an HTML document; blockquotes become `> ` lines, links keep their URL."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.size = 0
        self.skip = 0
        self.quote = 0
        self.pre = 0
        self.links: list[str | None] = []
        self.line_start = True

    def _emit(self, text: str) -> None:
        if self.size > MAX_TEXT or not text:
            return
        if self.line_start and self.quote:
            text = "> " * self.quote + text
        self.out.append(text)
        self.size += len(text)
        self.line_start = text.endswith("\n")

    def _newline(self) -> None:
        if not self.line_start:
            self._emit("\n")
        elif self.out and not self.out[-1].endswith("\n\n"):
            self.out.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED:
            self.skip += 1
        elif tag == "br":
            self._emit("\n")
        elif tag == "li":
            self._newline()
            self._emit("- ")
        elif tag in ("td", "th"):
            self._emit(" ")
        elif tag == "a":
            self.links.append(dict(attrs).get("href"))
        elif tag in BLOCKS:
            self._newline()
            self.quote += tag == "blockquote"
            self.pre += tag == "pre"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._emit("\n")
        elif tag == "hr":
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED:
            self.skip = max(0, self.skip - 1)
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href and href.startswith(("http://", "https://")) and not self.skip:
                last = self.out[-1] if self.out else ""
                if href not in last:
                    self._emit(f" ({href})")
        elif tag in BLOCKS or tag == "li":
            self._newline()
            if tag == "blockquote":
                self.quote = max(0, self.quote - 1)
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if not self.pre:
            data = _SPACES.sub(" ", data.replace("\n", " "))
            if self.line_start:
                data = data.lstrip()
        if self.quote and "\n" in data:
            data = data.replace("\n", "\n" + "> " * self.quote)
        self._emit(data)


def html_to_text(html: str) -> str:
    """The visible text of an HTML mail body: no script, style or remote content is ever touched."""
    parser = _Text()
    try:
        parser.feed(html[: MAX_TEXT * 8])
        parser.close()
    except AssertionError:
        pass
    lines = [line.rstrip() for line in "".join(parser.out).splitlines()]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()[:MAX_TEXT]


def latest_reply(text: str, languages: Sequence[str] = LANGUAGES) -> str:
    """The customer's new words: quoted history ("On … wrote:", Outlook headers) and the signature cut off;
    the whole text when nothing would be left."""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        return ""
    try:
        replies = EmailReplyParser(languages=list(languages)).read(text).replies
    except (re.error, RecursionError, ValueError):
        return text
    body = replies[0].body.strip() if replies else ""
    return body or text
