"""What a platform supports, as data: the core fits every message to it (`relay.degrade`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Limit:
    """A token bucket: `rate` sends per `per` seconds with `burst` capacity, per chat or per instance."""

    scope: Literal["chat", "connector"]
    rate: float
    per: float = 1.0
    burst: int = 1


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a platform supports, as data; the core degrades messages to fit. `calls`: the platform shows a
    CALL event as one (other destinations get a content-free text line). `consent_keywords`: the core answers
    STOP / START / HELP from this messenger's customers (SMS, WhatsApp) and keeps the ledger.
    `failures_in_answer`: a failure this source learns from the answer to its own request is not also sent
    to it as a failed status event (one channel per failure). `templates`: pre-approved templates can be sent;
    `max_buttons` / `max_list`: how many reply buttons / list rows a message may offer (0: none), `url_buttons`:
    call-to-action links; `typing` / `read_marks`: the customer can be shown typing and read signals."""

    max_text: int = 4096
    text_unit: Literal["chars", "utf16"] = "chars"
    threads: bool = False
    replies: bool = False
    edits: bool = False
    deletes: bool = False
    reactions: bool = False
    files: bool = False
    max_file_bytes: int = 0
    receipts: bool = False
    max_caption: int | None = None
    max_files: int = 10
    limits: tuple[Limit, ...] = ()
    ack_deadline: float = 10.0
    calls: bool = False
    consent_keywords: bool = False
    failures_in_answer: bool = False
    templates: bool = False
    max_buttons: int = 0
    max_list: int = 0
    url_buttons: bool = False
    typing: bool = False
    read_marks: bool = False
