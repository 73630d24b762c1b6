"""SMS segments: GSM-7 where every character fits (extension characters count twice), else UCS-2."""

from __future__ import annotations

from relay.richtext import RichText, Span
from relay.smstext import handset_text, is_gsm7, segments


def test_gsm7_texts_take_160_then_153_per_segment() -> None:
    assert is_gsm7("Hello @ £5, see you!") and segments("x" * 160) == 1
    assert segments("x" * 161) == 2 and segments("x" * 306) == 2 and segments("x" * 307) == 3
    assert segments("€" * 80) == 1 and segments("€" * 81) == 2


def test_anything_else_is_ucs2_at_70_then_67() -> None:
    assert not is_gsm7("Привет") and segments("П" * 70) == 1 and segments("П" * 71) == 2
    assert segments("😀" * 35) == 1 and segments("😀" * 36) == 2


def test_links_are_written_out_for_a_handset() -> None:
    text = RichText((Span("See "), Span("the label", href="https://x.example/l"), Span(" or https://x.example/m")))
    assert handset_text(text) == "See the label (https://x.example/l) or https://x.example/m"
    assert handset_text(RichText((Span("https://x.example/l", href="https://x.example/l"),))) == "https://x.example/l"
