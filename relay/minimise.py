"""Data minimisation before any destination: detectors that mask or drop values (payment cards with the
Luhn check, IBAN, e-mail, phone, national ids, custom patterns) and attachments filtered by type. Pure."""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from relay.model import Attachment, Message
from relay.richtext import RichText, Span

Action = Literal["mask", "drop"]
MASK = "•"
_SEPARATORS = " -.\u00a0"
_DIGIT_RUN = re.compile(r"(?<![\d+])\d(?:[ \-.\u00a0]{0,2}\d)*")
_GROUP = re.compile(r"\d+")


def luhn(digits: str) -> bool:
    """The Luhn (mod 10) check of a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def keep_last4(value: str) -> str:
    """Every letter and digit but the last four replaced by the mask character; separators kept."""
    keep = 4
    out = []
    for ch in reversed(value):
        if ch.isalnum() and keep:
            keep -= 1
            out.append(ch)
        else:
            out.append(MASK if ch.isalnum() else ch)
    return "".join(reversed(out))


def _card_spans(text: str) -> list[tuple[int, int]]:
    """Where card numbers are: 13-19 digits starting 2-6 that pass Luhn, either a whole digit run or
    whole groups of a run typed with separators (so digits around the number cannot hide it)."""
    found: list[tuple[int, int]] = []
    for run in _DIGIT_RUN.finditer(text):
        groups = [(m.start() + run.start(), m.end() + run.start()) for m in _GROUP.finditer(run.group())]
        i = 0
        while i < len(groups):
            best = None
            digits = ""
            for j in range(i, len(groups)):
                digits += text[groups[j][0] : groups[j][1]]
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and digits[0] in "23456" and luhn(digits):
                    best = j
            if best is None:
                i += 1
                continue
            found.append((groups[i][0], groups[best][1]))
            i = best + 1
    return found


def iban_valid(value: str) -> bool:
    """ISO 13616: 15-34 characters, country letters, check digits, mod 97 == 1."""
    compact = value.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    if not compact.isalnum() or not compact.isascii():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}(?![A-Za-z0-9])")


def _iban_spans(text: str) -> list[tuple[int, int]]:
    found = []
    for m in _IBAN.finditer(text):
        tokens = m.group().split(" ")
        for k in range(len(tokens), 0, -1):
            candidate = " ".join(tokens[:k])
            if iban_valid(candidate):
                found.append((m.start(), m.start() + len(candidate)))
                break
    return found


def _pattern_spans(pattern: re.Pattern[str], valid: Callable[[str], bool] | None = None) -> Finder:
    def spans(text: str) -> list[tuple[int, int]]:
        return [m.span() for m in pattern.finditer(text) if valid is None or valid(m.group())]

    return spans


_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")


def _phone_ok(value: str) -> bool:
    return 8 <= sum(c.isdigit() for c in value) <= 15 and not _DATE.fullmatch(value)


def _ssn_ok(value: str) -> bool:
    area, group, serial = value.split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _dni_ok(value: str) -> bool:
    digits, letter = value[:8], value[-1].upper()
    return "TRWAGMYFPDXBNJZSQVHLCKE"[int(digits) % 23] == letter


Finder = Callable[[str], list[tuple[int, int]]]
_EMAIL = re.compile(r"(?<![\w.+-])[\w.%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}(?![\w-])")
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d \-().\u00a0]{6,18}\d(?![\w])")
_SSN = re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])")
_NINO = re.compile(
    r"(?<![A-Za-z0-9])[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])", re.I
)
_DNI = re.compile(r"(?<![A-Za-z0-9])\d{8}-?[A-Za-z](?![A-Za-z0-9])")


_DIGITS = "0123456789"
_NO_DIGITS = str.maketrans("", "", "0123456789")


def _always(text: str) -> bool:
    return True


def digits_at_least(n: int) -> Callable[[str], bool]:
    """A cheap test that a text holds at least `n` ASCII digits (no detector finds a value with fewer)."""

    def enough(text: str) -> bool:
        for digit in _DIGITS:
            if digit in text:
                return len(text) - len(text.translate(_NO_DIGITS)) >= n
        return False

    return enough


@dataclass(frozen=True, slots=True)
class Detector:
    """One kind of value: where it is in a text, what a masked one looks like, and `might`, a cheap test
    that is False only when `find` would surely find nothing."""

    kind: str
    find: Finder
    mask: Callable[[str], str]
    might: Callable[[str], bool] = _always


def _label(kind: str) -> Callable[[str], str]:
    return lambda _: f"[{kind}]"


BUILTIN: dict[str, Detector] = {
    d.kind: d
    for d in (
        Detector("card", _card_spans, keep_last4, digits_at_least(13)),
        Detector("iban", _iban_spans, keep_last4, digits_at_least(2)),
        Detector("us_ssn", _pattern_spans(_SSN, _ssn_ok), _label("us_ssn"), digits_at_least(9)),
        Detector("uk_nino", _pattern_spans(_NINO), _label("uk_nino"), digits_at_least(6)),
        Detector("es_dni", _pattern_spans(_DNI, _dni_ok), _label("es_dni"), digits_at_least(8)),
        Detector("email", _pattern_spans(_EMAIL), _label("email"), lambda text: "@" in text),
        Detector("phone", _pattern_spans(_PHONE, _phone_ok), _label("phone"), digits_at_least(8)),
    )
}


def custom(kind: str, pattern: str) -> Detector:
    """A detector for an admin's regular expression; its matches become `[kind]`."""
    return Detector(kind, _pattern_spans(re.compile(pattern)), _label(kind))


@dataclass(frozen=True, slots=True)
class Rule:
    detector: Detector
    action: Action


@dataclass(frozen=True, slots=True)
class Policy:
    """What one route removes: detector rules in order, attachment types allowed or denied, and in which
    directions (inbound: messenger to CRM; outbound: CRM to messenger)."""

    rules: tuple[Rule, ...] = ()
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    inbound: bool = True
    outbound: bool = False

    @property
    def empty(self) -> bool:
        return not (self.rules or self.allow or self.deny)


def scrub(text: str, rules: Sequence[Rule]) -> tuple[str, Counter[str]]:
    """The text with every detected value masked or dropped, and how many of each kind."""
    counts: Counter[str] = Counter()
    for rule in rules:
        spans = rule.detector.find(text)
        if not spans:
            continue
        out, pos = [], 0
        for start, end in spans:
            out.append(text[pos:start])
            if rule.action == "mask":
                out.append(rule.detector.mask(text[start:end]))
            pos = end
        out.append(text[pos:])
        text = "".join(out)
        counts[rule.detector.kind] += len(spans)
    return text, counts


def scrub_rich(text: RichText, rules: Sequence[Rule]) -> tuple[RichText, Counter[str]]:
    """`scrub` span by span (styles kept); a value split across spans is caught on the joined text,
    which then replaces the styled one. A link whose target held a value loses its target."""
    counts: Counter[str] = Counter()
    spans = []
    for span in text.spans:
        body, found = scrub(span.text, rules)
        counts += found
        href = span.href
        if href is not None and scrub(href, rules)[1]:
            href = None
        spans.append(Span(body, span.style, href))
    result = RichText(tuple(spans))
    joined, across = scrub(result.plain, rules)
    if across:
        return RichText.of(joined), counts + across
    return result, counts


def _might_find(text: RichText, rules: Sequence[Rule]) -> bool:
    """Whether any rule could find a value in the text or its link targets (cheap; False is sure)."""
    probe = text.plain
    hrefs = [s.href for s in text.spans if s.href]
    if hrefs:
        probe = "\n".join([probe, *hrefs])
    return any(rule.detector.might(probe) for rule in rules)


def allowed(mime: str, policy: Policy) -> bool:
    """Whether an attachment of this type passes the policy's allow and deny lists (deny wins)."""
    mime = mime.lower()
    if any(fnmatch.fnmatchcase(mime, p) for p in policy.deny):
        return False
    return not policy.allow or any(fnmatch.fnmatchcase(mime, p) for p in policy.allow)


def minimise(message: Message, policy: Policy) -> Message:
    """The message with the policy applied to its text, captions and file names, refused attachments
    removed, and `masked` counting what went, per kind (never the values)."""
    if policy.empty or not (message.text or message.attachments):
        return message
    if not (message.attachments or policy.allow or policy.deny) and not _might_find(message.text, policy.rules):
        return message
    counts: Counter[str] = Counter()
    text, found = scrub_rich(message.text, policy.rules) if message.text else (message.text, counts)
    counts += found
    attachments: list[Attachment] = []
    for att in message.attachments:
        if not allowed(att.mime, policy):
            counts["attachment"] += 1
            continue
        caption, found = scrub_rich(att.caption, policy.rules) if att.caption else (att.caption, Counter())
        name, named = scrub(att.name, policy.rules)
        counts += found + named
        if found or named:
            att = Attachment(name or "file", att.mime, att.size, att.data, att.ref, att.url, caption)
        attachments.append(att)
    if not counts:
        return message
    merged = Counter(dict(message.masked)) + counts
    return message.with_(text=text, attachments=tuple(attachments), masked=tuple(sorted(merged.items())))
