"""Slack's text dialect (mrkdwn, emoji names) <-> canonical text; apart, as convert.py would pass 300 lines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

from relay.richtext import RichText, Span, Style

EMOJI = {
    "thumbsup": "👍",
    "+1": "👍",
    "thumbsdown": "👎",
    "-1": "👎",
    "heart": "❤️",
    "smile": "😄",
    "grinning": "😀",
    "laughing": "😆",
    "joy": "😂",
    "wink": "😉",
    "heart_eyes": "😍",
    "star-struck": "🤩",
    "thinking_face": "🤔",
    "open_mouth": "😮",
    "cry": "😢",
    "sob": "😭",
    "rage": "😡",
    "scream": "😱",
    "partying_face": "🥳",
    "tada": "🎉",
    "white_check_mark": "✅",
    "heavy_check_mark": "✔️",
    "x": "❌",
    "warning": "⚠️",
    "question": "❓",
    "exclamation": "❗",
    "eyes": "👀",
    "pray": "🙏",
    "wave": "👋",
    "raised_hands": "🙌",
    "muscle": "💪",
    "fire": "🔥",
    "sparkles": "✨",
    "star": "⭐",
    "ok_hand": "👌",
    "clap": "👏",
    "slightly_smiling_face": "🙂",
    "rocket": "🚀",
    "100": "💯",
}


def reaction_text(name: str) -> str:
    """A Slack reaction name as an emoji character where known, else :name:."""
    base = name.split("::", 1)[0]
    return EMOJI.get(base, f":{base}:")


# ---- mrkdwn out -------------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Escape Slack's three control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_SAFE_URL = re.compile(r"^(https?://|mailto:)[^\s]+$", re.IGNORECASE)


def _link(url: str, label: str) -> str:
    if not _SAFE_URL.match(url):
        return f"{label} ({escape(url)})" if label != url else escape(url)
    target = escape(quote(url, safe=":/?#[]@!$&'()*+,;=%~-._"))
    return f"<{target}>" if label in ("", escape(url)) else f"<{target}|{label.replace('|', '¦')}>"


def _wrap(body: str, mark: str) -> str:
    core = body.strip()
    if not core:
        return body
    lead = body[: len(body) - len(body.lstrip())]
    trail = body[len(body.rstrip()) :]
    return f"{lead}{mark}{core}{mark}{trail}"


def to_mrkdwn(text: RichText) -> str:
    """Render canonical rich text as Slack mrkdwn: control characters escaped, links as <url|label>."""
    out: list[str] = []
    for s in text.spans:
        if Style.PRE in s.style:
            out.append(f"```{escape(s.text)}```")
            continue
        body = escape(s.text)
        if Style.CODE in s.style:
            body = _wrap(body.replace("`", "ˋ"), "`")
        for flag, mark in ((Style.BOLD, "*"), (Style.ITALIC, "_"), (Style.STRIKE, "~")):
            if flag in s.style:
                body = _wrap(body, mark)
        out.append(_link(s.href, body) if s.href else body)
    return "".join(out)


# ---- mrkdwn in --------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"(?P<pre>```(?P<pre_body>.+?)```)"
    r"|(?P<code>`(?P<code_body>[^`\n]+)`)"
    r"|<(?P<angle>[^<>\n]+)>"
    r"|(?P<bold>(?<!\w)\*(?P<bold_body>[^*\n]+)\*(?!\w))"
    r"|(?P<italic>(?<!\w)_(?P<italic_body>[^_\n]+)_(?!\w))"
    r"|(?P<strike>(?<!\w)~(?P<strike_body>[^~\n]+)~(?!\w))",
    re.DOTALL,
)


def unescape(text: str) -> str:
    """Undo Slack's escaping of &, <, >."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _angle(inner: str, style: Style) -> Span:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return Span(f"@{unescape(label) or target[1:]}", style)
    if target.startswith("#"):
        return Span(f"#{unescape(label) or target[1:]}", style)
    if target.startswith("!"):
        name = target[1:].split("^", 1)[0]
        return Span(f"@{unescape(label) or name}", style)
    url = unescape(target)
    return Span(unescape(label) or url, style, url)


def _parse(source: str, style: Style) -> Iterator[Span]:
    pos = 0
    for m in _TOKEN.finditer(source):
        if m.start() > pos:
            yield Span(unescape(source[pos : m.start()]), style)
        if m.group("pre") is not None:
            yield Span(unescape(m.group("pre_body")), style | Style.PRE)
        elif m.group("code") is not None:
            yield Span(unescape(m.group("code_body")), style | Style.CODE)
        elif m.group("angle") is not None:
            yield _angle(m.group("angle"), style)
        else:
            for name, flag in (("bold", Style.BOLD), ("italic", Style.ITALIC), ("strike", Style.STRIKE)):
                if m.group(name) is not None:
                    yield from _parse(m.group(f"{name}_body"), style | flag)
        pos = m.end()
    if pos < len(source):
        yield Span(unescape(source[pos:]), style)


def parse_mrkdwn(source: str) -> RichText:
    """Slack message text as canonical rich text (styles, links, mentions as @name)."""
    return RichText.of("") + RichText(tuple(_parse(source, Style.NONE)))
