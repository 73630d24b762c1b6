"""The text of an e-mail: HTML turned into plain text without running or fetching anything, quoted
history and signatures cut off (mail-parser-reply), for every mail connector."""

from __future__ import annotations

import re
from collections.abc import Sequence
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser

MAX_TEXT = 200_000
SKIPPED = frozenset({"script", "style", "head", "title", "template", "noscript", "svg", "math", "object", "iframe"})
LINES = frozenset({"div", "li", "tr", "dt", "dd", "section", "article", "header", "footer", "main", "nav", "table"})
PARAGRAPHS = frozenset({"p", "ul", "ol", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "pre", "blockquote"})
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
        self.trailing = 0

    def _emit(self, text: str) -> None:
        if self.size > MAX_TEXT or not text:
            return
        prefix = "> " * self.quote if self.line_start and self.quote else ""
        self.out.append(prefix + text)
        self.size += len(prefix) + len(text)
        body = text.rstrip("\n")
        self.trailing = self.trailing + len(text) if not body else len(text) - len(body)
        self.line_start = text.endswith("\n")

    def _break(self, paragraph: bool) -> None:
        """End the line (and, for a paragraph, leave one blank line), never more than that."""
        if not self.out:
            return
        while self.trailing < (2 if paragraph else 1):
            self._emit("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED:
            self.skip += 1
        elif tag == "br":
            self._emit("\n")
        elif tag in ("td", "th"):
            self._emit(" ")
        elif tag == "a":
            self.links.append(dict(attrs).get("href"))
        elif tag in LINES or tag in PARAGRAPHS:
            self._break(tag in PARAGRAPHS)
            self.quote += tag == "blockquote"
            self.pre += tag == "pre"
            if tag == "li":
                self._emit("- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._emit("\n")
        elif tag == "hr":
            self._break(True)

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED:
            self.skip = max(0, self.skip - 1)
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href and href.startswith(("http://", "https://")) and not self.skip:
                last = self.out[-1] if self.out else ""
                if href not in last:
                    self._emit(f" ({href})")
        elif tag in LINES or tag in PARAGRAPHS:
            if tag == "blockquote":
                self.quote = max(0, self.quote - 1)
            if tag == "pre":
                self.pre = max(0, self.pre - 1)
            self._break(tag in PARAGRAPHS)

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
