"""WhatsApp text markup <-> RichText, and Graph error codes -> content-free reason codes."""

from __future__ import annotations

import re

from relay.richtext import RichText, Span, Style

_MARKS = ((Style.STRIKE, "~"), (Style.ITALIC, "_"), (Style.BOLD, "*"))

_TOKEN = re.compile(
    r"(?P<pre>```(?P<pre_body>.+?)```)"
    r"|(?P<code>`(?P<code_body>[^`\n]+)`)"
    r"|(?<![\w*_~])(?P<mark>[*_~])(?P<body>[^\s*_~](?:[^\n]*?[^\s])??)(?P=mark)(?![\w*_~])",
    re.DOTALL,
)
_STYLE = {"*": Style.BOLD, "_": Style.ITALIC, "~": Style.STRIKE}


def parse(source: str, outer: Style = Style.NONE) -> RichText:
    """Incoming WhatsApp markup (*bold* _italic_ ~strike~ ```mono``` `code`) as RichText."""
    spans: list[Span] = []
    pos = 0
    for m in _TOKEN.finditer(source):
        if m.start() > pos:
            spans.append(Span(source[pos : m.start()], outer))
        if m.group("pre") is not None:
            spans.append(Span(m.group("pre_body"), outer | Style.PRE))
        elif m.group("code") is not None:
            spans.append(Span(m.group("code_body"), outer | Style.CODE))
        else:
            spans.extend(parse(m.group("body"), outer | _STYLE[m.group("mark")]).spans)
        pos = m.end()
    if pos < len(source):
        spans.append(Span(source[pos:], outer))
    return RichText(()) + RichText(tuple(spans))


def _wrap(text: str, style: Style) -> str:
    core = text.strip()
    if not core:
        return text
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    if Style.PRE in style or Style.CODE in style:
        return f"{lead}```{core}```{trail}"
    for flag, mark in _MARKS:
        if flag in style:
            core = f"{mark}{core}{mark}"
    return f"{lead}{core}{trail}"


def render(text: RichText) -> str:
    """RichText in WhatsApp's dialect; links become "label (url)" since WhatsApp has no link markup."""
    out: list[str] = []
    for s in text.spans:
        body = _wrap(s.text, s.style)
        if s.href and s.href != s.text.strip():
            body = f"{body} ({s.href})"
        elif s.href:
            body = s.href
        out.append(body)
    return "".join(out)


REASONS: dict[int, str] = {
    0: "token_invalid",
    190: "token_invalid",
    10: "permission_denied",
    100: "invalid_parameter",
    368: "account_restricted",
    130429: "rate_limited",
    130472: "recipient_in_experiment",
    131000: "platform_error",
    131005: "permission_denied",
    131008: "invalid_parameter",
    131009: "invalid_parameter",
    131021: "recipient_is_sender",
    131026: "recipient_unreachable",
    131030: "recipient_not_allowed",
    131031: "account_locked",
    131042: "payment_issue",
    131047: "template_required",
    131048: "spam_rate_limited",
    131049: "marketing_limited",
    131051: "unsupported_message_type",
    131052: "media_download_failed",
    131053: "media_upload_failed",
    131056: "pair_rate_limited",
    131057: "account_in_maintenance",
    131064: "messaging_limit_reached",
    4: "app_rate_limited",
    80007: "account_rate_limited",
}


def reason_for(code: int | None, http_status: int = 0) -> str:
    """A short reason code for a Graph error code (content-free)."""
    if code is None:
        return f"platform_rejected_{http_status}" if http_status else "platform_error"
    if code in REASONS:
        return REASONS[code]
    if 132000 <= code <= 132999:
        return "template_error"
    if 200 <= code <= 299:
        return "permission_denied"
    return f"platform_rejected_{code}"
