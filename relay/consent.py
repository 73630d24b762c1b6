"""The consent ledger: per subject (a keyed digest of channel and address) whether it opted out or in,
when and how; never an address or a word of content. Also the keyword classes customers write."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from relay.keyed import HmacSha256

OPT_OUT_WORDS = ("stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "opt out", "opt-out")
OPT_IN_WORDS = ("start", "unstop", "yes")
HELP_WORDS = ("help", "info")
_PHONE_LIKE = re.compile(r"\+?[0-9][0-9 ().\-\u00a0]*")


class State(StrEnum):
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"


class How(StrEnum):
    """Who decided: the customer's keyword, the messenger platform, the CRM, or an admin."""

    KEYWORD = "keyword"
    PLATFORM = "platform"
    CRM = "crm"
    ADMIN = "admin"


class Keyword(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


@dataclass(frozen=True, slots=True)
class Keywords:
    """Whole-message keywords, matched after trimming and case folding."""

    opt_out: frozenset[str] = frozenset(OPT_OUT_WORDS)
    opt_in: frozenset[str] = frozenset(OPT_IN_WORDS)
    help: frozenset[str] = frozenset(HELP_WORDS)

    @classmethod
    def with_extra(cls, opt_out: Iterable[str] = (), opt_in: Iterable[str] = (), help: Iterable[str] = ()) -> Keywords:
        """The standard lists plus a workspace's own words (another language's)."""
        out = frozenset(OPT_OUT_WORDS) | {fold(w) for w in opt_out}
        return cls(
            out,
            (frozenset(OPT_IN_WORDS) | {fold(w) for w in opt_in}) - out,
            (frozenset(HELP_WORDS) | {fold(w) for w in help}) - out,
        )

    def classify(self, text: str) -> Keyword | None:
        """The keyword class of a whole message, or None for an ordinary one ("stop texting me")."""
        if len(text) > 64:
            return None
        word = fold(text)
        if word in self.opt_out:
            return Keyword.OPT_OUT
        if word in self.opt_in:
            return Keyword.OPT_IN
        if word in self.help:
            return Keyword.HELP
        return None


def fold(text: str) -> str:
    return text.strip().casefold()


def normalise_address(address: str) -> str:
    """One form per address: a phone number as its digits (+49 151-234 and 49151234 are one subject);
    any other platform id as given, trimmed."""
    value = address.strip()
    if _PHONE_LIKE.fullmatch(value):
        return "".join(c for c in value if c.isdigit())
    return value


@dataclass(frozen=True, slots=True)
class Event:
    """One change of consent: whose (a subject digest, under which key), the new state, when, how."""

    subject: str
    key_id: str
    state: State
    at: float
    how: How


class Subjects:
    """Keyed digests of (channel, address) under each ledger key: the first key records, every key is
    looked up (a workspace key rotation keeps earlier opt-outs)."""

    def __init__(self, workspace: str, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("at least one ledger key is needed")
        self.workspace = workspace
        self._macs = [(kid, HmacSha256(_derive(secret, workspace))) for kid, secret in keys]

    @property
    def key_id(self) -> str:
        return self._macs[0][0]

    def of(self, channel: str, address: str) -> list[str]:
        """The subject digests of one address on one channel, the recording key's first."""
        data = f"{channel}\0{normalise_address(address)}".encode()
        return [mac.hexdigest(data)[:40] for _, mac in self._macs]


def _derive(secret: bytes, workspace: str) -> bytes:
    info = f"relay/{workspace}/consent".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


class Ledger(Protocol):
    """Where consent is kept, durably except for the memory kind. Nothing but subjects, states, times
    and hows is ever stored."""

    kind: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def record(self, event: Event) -> bool:
        """Store `event` unless a later one already decided; True when the subject's state changed."""
        ...

    async def state(self, subjects: Sequence[str]) -> Event | None:
        """The latest decision recorded under any of `subjects`, or None."""
        ...

    async def forget(self, subjects: Sequence[str]) -> int:
        """Remove every row of these subjects (an erasure request); how many went."""
        ...

    async def prune(self, now: float | None = None) -> int:
        """Drop history and opted-in subjects older than the retention (opt-outs stay); how many went."""
        ...

    def export(self) -> AsyncIterator[tuple[str, Event]]:
        """("state", current) for every subject, then ("event", change) for the history, oldest first."""
        ...


class MemoryLedger:
    """Consent in process memory: forgotten at restart. For the sandbox and tests only."""

    kind = "memory"

    def __init__(self, retention: float = 4 * 365.25 * 86400) -> None:
        self.retention = retention
        self._state: dict[str, Event] = {}
        self._events: list[Event] = []

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def record(self, event: Event) -> bool:
        current = self._state.get(event.subject)
        if current is not None and (current.at > event.at or current.state is event.state):
            return False
        self._state[event.subject] = event
        self._events.append(event)
        return True

    async def state(self, subjects: Sequence[str]) -> Event | None:
        found = [e for s in subjects if (e := self._state.get(s)) is not None]
        return max(found, key=lambda e: e.at) if found else None

    async def forget(self, subjects: Sequence[str]) -> int:
        gone = sum(self._state.pop(s, None) is not None for s in subjects)
        before = len(self._events)
        self._events = [e for e in self._events if e.subject not in subjects]
        return gone + before - len(self._events)

    async def prune(self, now: float | None = None) -> int:
        horizon = (now or time.time()) - self.retention
        before = len(self._events) + len(self._state)
        self._events = [e for e in self._events if e.at >= horizon]
        self._state = {s: e for s, e in self._state.items() if e.state is State.OPTED_OUT or e.at >= horizon}
        return before - len(self._events) - len(self._state)

    async def export(self) -> AsyncIterator[tuple[str, Event]]:
        for event in list(self._state.values()):
            yield "state", event
        for event in list(self._events):
            yield "event", event
