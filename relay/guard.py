"""Consent and minimisation inside the engine: keywords from customers recorded in the ledger and
confirmed once, CRM consent actions recorded, the ledger checked before every send to a messenger,
and each route's minimisation policy applied once before any destination."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from relay.connector import Connector, ConnectorKind, Outcome, Result
from relay.consent import Event, How, Keyword, Keywords, Ledger, State, Subjects
from relay.errors import DeliveryError
from relay.metrics import Metrics
from relay.minimise import Policy, minimise
from relay.model import Address, Kind, Message
from relay.reasons import Reason
from relay.richtext import RichText

log = logging.getLogger("relay.consent")

_STATE = {Kind.OPT_OUT: State.OPTED_OUT, Kind.OPT_IN: State.OPTED_IN}
_KIND = {Keyword.OPT_OUT: Kind.OPT_OUT, Keyword.OPT_IN: Kind.OPT_IN}
_RECORDED = Result(Outcome.DELIVERED)


@dataclass(frozen=True, slots=True)
class Replies:
    """What a customer gets back: once after opting out or in, and each time for HELP ("" sends nothing)."""

    opt_out: str = ""
    opt_in: str = ""
    help: str = ""

    def for_(self, word: Keyword) -> str:
        return {Keyword.OPT_OUT: self.opt_out, Keyword.OPT_IN: self.opt_in, Keyword.HELP: self.help}[word]


class Guard:
    """What the engine asks before routing a message and before sending to a messenger."""

    def __init__(
        self,
        ledger: Ledger,
        subjects: Subjects,
        connectors: Mapping[str, Connector],
        metrics: Metrics,
        keywords: Keywords | None = None,
        replies: Replies | None = None,
        policies: Mapping[str, Policy] | None = None,
    ) -> None:
        self.ledger = ledger
        self.subjects = subjects
        self.connectors = connectors
        self.metrics = metrics
        self.keywords = keywords or Keywords()
        self.replies = replies or Replies()
        self.policies = dict(policies or {})

    def _subjects(self, messenger: Connector, address: Address) -> list[str]:
        return self.subjects.of(messenger.manifest.type, address.chat)

    async def admit(self, message: Message, dest: str) -> Message | Result:
        """The message to route (a keyword becomes a content-free consent event, the policy applied),
        or the result when there is nothing to send (a CRM's consent action, once recorded)."""
        origin = self.connectors.get(message.origin)
        if origin is None:
            return message
        if origin.manifest.kind is ConnectorKind.MESSENGER:
            message = await self._from_customer(origin, message)
            policy = self.policies.get(origin.name)
            return minimise(message, policy) if policy is not None and policy.inbound else message
        target = self.connectors.get(dest)
        if message.kind in _STATE and target is not None:
            await self._record(target, message.conversation, _STATE[message.kind], How.CRM, time.time())
            return _RECORDED
        policy = self.policies.get(dest)
        return minimise(message, policy) if policy is not None and policy.outbound else message

    async def _from_customer(self, origin: Connector, message: Message) -> Message:
        """A keyword from a messenger the core answers for (the same keyword already marked as a consent
        event by such a connector counts as the keyword); an opt-out the platform itself reports."""
        if message.kind not in (Kind.TEXT, *_STATE):
            return message
        at = min(message.sent_at.timestamp(), time.time())
        keywords = origin.capabilities.consent_keywords
        word = self.keywords.classify(message.text.plain) if keywords and not message.attachments else None
        if message.kind in _STATE and (word is None or _KIND.get(word) is not message.kind):
            await self._record(origin, message.conversation, _STATE[message.kind], How.PLATFORM, at)
            return message.with_(text=RichText(), attachments=(), reason=How.PLATFORM.value)
        if word is None:
            return message
        if word is Keyword.HELP:
            await self._reply(origin, message, word)
            return message
        if word is Keyword.OPT_IN:
            current = await self.ledger.state(self._subjects(origin, message.conversation))
            if current is None or current.state is not State.OPTED_OUT:
                return message.with_(kind=Kind.TEXT)
        state = State.OPTED_OUT if word is Keyword.OPT_OUT else State.OPTED_IN
        if await self._record(origin, message.conversation, state, How.KEYWORD, at):
            await self._reply(origin, message, word)
        return message.with_(kind=_KIND[word], text=RichText(), reason=How.KEYWORD.value)

    async def _record(self, messenger: Connector, address: Address, state: State, how: How, at: float) -> bool:
        """Record a decision under the current key; True when it changed the subject's state."""
        subjects = self._subjects(messenger, address)
        key_id = self.subjects.key_id
        current = await self.ledger.state(subjects)
        if current is not None and (current.at > at or current.state is state):
            if current.subject != subjects[0] and current.state is state:
                await self.ledger.record(Event(subjects[0], key_id, current.state, current.at, current.how))
            return False
        changed = await self.ledger.record(Event(subjects[0], key_id, state, at, how))
        if changed:
            self.metrics.inc("relay_consent_total", connector=messenger.name, state=state.value, how=how.value)
        return changed

    async def _reply(self, origin: Connector, message: Message, word: Keyword) -> None:
        """The configured reply to a keyword, sent to the customer directly (past the ledger's block)."""
        text = self.replies.for_(word)
        if not text:
            return
        reply = Message(
            kind=Kind.NOTICE,
            id=f"consent:{word.value}:{message.id}",
            origin=origin.name,
            conversation=message.conversation,
            text=RichText.of(text),
            reason=word.value,
        )
        try:
            await origin.send(reply)
        except Exception as exc:
            log.warning("consent reply not sent", extra={"connector": origin.name, "error": type(exc).__name__})
            self.metrics.inc("relay_consent_replies_total", connector=origin.name, keyword=word.value, outcome="failed")
            return
        self.metrics.inc("relay_consent_replies_total", connector=origin.name, keyword=word.value, outcome="sent")

    async def check(self, messenger: Connector, address: Address) -> None:
        """Raise DeliveryError(OPTED_OUT) when the address opted out on this channel; before any
        provider call. A ledger that cannot answer blocks too (retried later)."""
        try:
            current = await self.ledger.state(self._subjects(messenger, address))
        except Exception as exc:
            log.error("consent ledger unavailable", extra={"connector": messenger.name, "error": type(exc).__name__})
            raise DeliveryError(Reason.CONSENT_UNAVAILABLE, retry_after=5) from None
        if current is not None and current.state is State.OPTED_OUT:
            raise DeliveryError(Reason.OPTED_OUT)

    async def allows(self, messenger: Connector, address: Address) -> bool:
        """Whether a notice may go to this address (False when opted out or the ledger cannot tell)."""
        try:
            await self.check(messenger, address)
        except DeliveryError:
            return False
        return True
