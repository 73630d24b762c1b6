"""SMS text facts every SMS connector needs: plain text for a handset, whether it fits the GSM 7-bit alphabet,
and how many segments it takes (160 / 153 GSM characters, or 70 / 67 UTF-16 units in UCS-2)."""

from __future__ import annotations

import math

from relay.richtext import RichText, utf16_len

_GSM = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = frozenset("^{}\\[~]|€\f")


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM 03.38 alphabet or its extension table."""
    return all(c in _GSM or c in _GSM_EXT for c in text)


def segments(text: str) -> int:
    """Segments a text takes as one concatenated SMS (an extension character counts twice in GSM-7)."""
    if is_gsm7(text):
        units = len(text) + sum(1 for c in text if c in _GSM_EXT)
        return 1 if units <= 160 else math.ceil(units / 153)
    units = utf16_len(text)
    return 1 if units <= 70 else math.ceil(units / 67)


def handset_text(text: RichText) -> str:
    """Plain text for a handset: a link's target is written out after its label."""
    out = []
    for span in text.spans:
        label = span.text.strip()
        out.append(span.text if not span.href or label == span.href else f"{span.text} ({span.href})")
    return "".join(out)
