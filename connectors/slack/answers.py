"""One choice per message: a click claims the message's (channel, ts), and once the CRM took the choice the buttons
give way to a line showing it (chat.update); a choice the CRM did not take frees the claim and keeps the buttons."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from slack_sdk.web.async_client import AsyncWebClient

from connectors.slack import sdk
from connectors.slack.blocks import answered, where
from relay.connector import Inbound, Outcome, Result
from relay.errors import DeliveryError
from relay.http import respond
from relay.model import Message
from relay.once import Once
from relay.reasons import Reason

if TYPE_CHECKING:
    from relay.seal import Sealer
    from relay.state import StateStore

UPDATE_REFUSALS = {
    "message_not_found": Reason.UNKNOWN_MESSAGE,
    "cant_update_message": Reason.PLATFORM_REJECTED,
    "edit_window_closed": Reason.PLATFORM_REJECTED,
}
Deliver = Callable[[Message], Awaitable[Result]]


def update_refusal(exc: DeliveryError) -> DeliveryError:
    """A chat.update failure as its Reason: a message gone is an unknown message; one the app may not (or no
    longer) edit is refused for good; anything else as every Web API failure."""
    reason = UPDATE_REFUSALS.get(exc.detail or "")
    return exc if reason is None else DeliveryError(reason, retryable=False, detail=exc.detail)


class Answers:
    """The claim on each answered message (a keyed digest in the state store) and the update after a choice."""

    def __init__(
        self,
        name: str,
        web: AsyncWebClient,
        state: StateStore,
        sealer: Sealer,
        spawn: sdk.Spawn,
        log: logging.Logger,
    ) -> None:
        self.name, self.web, self.spawn, self.log = name, web, spawn, log
        self.once = Once(state, sealer, "slack:answered:", name)

    def _key(self, payload: dict[str, Any]) -> str:
        channel, ts, _ = where(payload) or ("", "", None)
        return self.once.key(channel, ts)

    async def take(self, message: Message, payload: dict[str, Any]) -> Inbound:
        """The hook's answer to a click: the choice to deliver (then settled), or `duplicate` when the message
        was already answered (a second click, a stale client) and nothing goes to the CRM."""
        key = self._key(payload)
        if not await self.once.claim(key, message.id):
            return Inbound(reply=respond(Result(Outcome.DUPLICATE)))

        async def then(result: Result) -> None:
            await self.settle(key, message, payload, result)

        return Inbound(((message,),), then=then)

    async def deliver(self, deliver: Deliver, message: Message, payload: dict[str, Any]) -> Result:
        """A click from Socket Mode: claimed, delivered, settled; a message already answered is a duplicate."""
        key = self._key(payload)
        if not await self.once.claim(key, message.id):
            return Result(Outcome.DUPLICATE)
        result = await deliver(message)
        await self.settle(key, message, payload, result)
        return result

    async def settle(self, key: str, message: Message, payload: dict[str, Any], result: Result) -> None:
        """Once the CRM took the choice, replace the buttons (in the background); otherwise free the claim."""
        if not await self.once.settle(key, result) or message.choice is None:
            return
        args = answered(payload, message.choice.title)
        if args is not None:
            self.spawn(self._update(args), "chat.update")

    async def _update(self, args: dict[str, Any]) -> None:
        try:
            await sdk.call(self.web.api_call("chat.update", json=args))
        except DeliveryError as exc:
            failed = update_refusal(exc)
            extra = {"connector": self.name, "reason": failed.reason, "code": failed.detail}
            self.log.info("choice buttons left in place", extra=extra)
