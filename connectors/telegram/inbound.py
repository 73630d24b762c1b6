"""Updates in: the secret-token webhook route and the long-polling loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError

from connectors.telegram.config import TelegramConfig
from connectors.telegram.convert import ALLOWED_UPDATES, Accept, to_message
from connectors.telegram.interact import callback_id, choice_message, reaction_message
from relay.connector import Context, HookRequest, Inbound, Result
from relay.credential import header_credential, same
from relay.errors import AuthError, BadRequest
from relay.http import parse_json
from relay.lease import Lease
from relay.model import Message

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
Answer = Callable[[str], None]


def _unanswered(_: str) -> None:
    return None


def authenticate(expected: bytes, request: HookRequest) -> None:
    """Constant-time check of Telegram's secret-token header; 403 when missing or different."""
    header = request.headers.get(SECRET_HEADER)
    if not header:
        raise AuthError("missing X-Telegram-Bot-Api-Secret-Token header", 403)
    if not same(header_credential(header, "X-Telegram-Bot-Api-Secret-Token header"), expected):
        raise AuthError("wrong X-Telegram-Bot-Api-Secret-Token", 403)


def parse(
    instance: str, accept: Accept, log: logging.Logger, answer: Answer, request: HookRequest, _: Any = None
) -> Inbound:
    """One update as the Message it carries; nothing for updates the relay does not carry."""
    data = parse_json(request.body)
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise BadRequest("not a Telegram update")
    message = update_message(data, instance, accept, log, answer)
    return Inbound.of(message) if message is not None else Inbound()


def update_message(
    data: dict[str, Any], instance: str, accept: Accept, log: logging.Logger, answer: Answer = _unanswered
) -> Message | None:
    """The Message of an authenticated update, or None (logged by error class only) when it has none. A
    callback query is handed to `answer` first, so the customer's button stops spinning whatever follows."""
    try:
        if (query := callback_id(data)) is not None:
            answer(query)
            return choice_message(data, instance, accept)
        if "message_reaction" in data:
            return reaction_message(data, instance, accept)
        return to_message(data, instance, accept)
    except Exception as exc:
        log.warning("update not understood", extra={"connector": instance, "error": type(exc).__name__})
        return None


class Updates(Protocol):
    """The Bot API calls long polling needs."""

    async def raw_updates(self, params: dict[str, Any], read_timeout: float) -> list[Any]: ...

    async def delete_webhook(self, drop_pending_updates: bool) -> bool: ...


def _chat_of(update: dict[str, Any]) -> str:
    for value in update.values():
        if isinstance(value, dict) and isinstance(value.get("message"), dict):
            value = value["message"]
        if isinstance(value, dict) and isinstance(value.get("chat"), dict):
            return str(value["chat"].get("id"))
    return ""


class Poller:
    """getUpdates long polling for one replica (a lease in the state store); the offset only
    moves past updates whose delivery was acknowledged, so Telegram keeps the rest for us."""

    def __init__(
        self,
        name: str,
        config: TelegramConfig,
        bot: Updates,
        ctx: Context,
        accept: Accept,
        answer: Answer = _unanswered,
    ) -> None:
        self.name = name
        self.answer = answer
        self.config = config
        self.bot = bot
        self.ctx = ctx
        self.accept = accept
        self.offset: int | None = None
        self.confirmed: int | None = None
        self.polls = 0
        self.lease = Lease(ctx.state, "poll:" + ctx.sealer.digest(name), config.poll_timeout + config.timeout + 10)

    async def run(self) -> None:
        """Remove any webhook, then poll until cancelled."""
        await self._until_ok(self._delete_webhook)
        while True:
            if not await self.lease.take():
                await asyncio.sleep(min(5.0, self.config.poll_retry_pause))
                continue
            try:
                pause = await self.poll_once()
            except Exception as exc:
                self.ctx.log.error("polling failed", extra={"connector": self.name, "error": type(exc).__name__})
                pause = self.config.poll_retry_pause
            if pause:
                await asyncio.sleep(pause)

    async def _delete_webhook(self) -> None:
        await self.bot.delete_webhook(drop_pending_updates=False)

    async def _until_ok(self, call: Any) -> None:
        delay = 1.0
        while True:
            try:
                await call()
                return
            except TelegramError as exc:
                self.ctx.log.warning(
                    "deleteWebhook failed", extra={"connector": self.name, "error": type(exc).__name__}
                )
                await asyncio.sleep(delay)
                delay = min(60.0, delay * 2)

    async def fetch(self, timeout: int) -> list[dict[str, Any]]:
        """One getUpdates call from the current offset (which also confirms everything before it)."""
        kwargs: dict[str, Any] = {"timeout": timeout, "allowed_updates": list(ALLOWED_UPDATES)}
        if self.offset is not None:
            kwargs["offset"] = self.offset
        raw = await self.bot.raw_updates(kwargs, read_timeout=timeout + self.config.timeout)
        self.confirmed = self.offset
        self.polls += 1
        return [u for u in raw if isinstance(u, dict) and isinstance(u.get("update_id"), int)]

    async def poll_once(self) -> float:
        """Fetch and deliver one batch; return how long to pause before the next poll."""
        cfg = self.config
        try:
            updates = await self.fetch(cfg.poll_timeout)
        except RetryAfter:
            return cfg.poll_retry_pause
        except (Conflict, InvalidToken) as exc:
            self.ctx.log.error("getUpdates refused", extra={"connector": self.name, "error": type(exc).__name__})
            return max(cfg.poll_retry_pause, 30.0)
        except TelegramError as exc:
            self.ctx.log.warning("getUpdates failed", extra={"connector": self.name, "error": type(exc).__name__})
            return cfg.poll_retry_pause
        if not updates:
            return 0.0
        return cfg.poll_retry_pause if not await self.deliver(updates) else 0.0

    async def deliver(self, updates: Sequence[dict[str, Any]]) -> bool:
        """Deliver a batch, chats in parallel and each chat in order; advance the offset up to the first
        update that was not acknowledged. True if every update was."""
        ordered = sorted(updates, key=lambda u: int(u["update_id"]))
        by_chat: dict[str, list[dict[str, Any]]] = {}
        for update in ordered:
            by_chat.setdefault(_chat_of(update), []).append(update)
        done: set[int] = set()

        async def one_chat(items: list[dict[str, Any]]) -> None:
            for update in items:
                message = update_message(update, self.name, self.accept, self.ctx.log, self.answer)
                result = await self.ctx.deliver(message) if message is not None else None
                if not _acknowledged(result):
                    return
                done.add(int(update["update_id"]))

        await asyncio.gather(*(one_chat(items) for items in by_chat.values()))
        for update in ordered:
            uid = int(update["update_id"])
            if uid not in done:
                return False
            self.offset = uid + 1
        return True

    async def confirm(self) -> None:
        """Tell Telegram which updates were delivered, so a restart does not fetch them again."""
        if self.offset is None or self.offset == self.confirmed:
            return
        with contextlib.suppress(TelegramError, TimeoutError):
            await asyncio.wait_for(self.bot.raw_updates({"offset": self.offset, "limit": 1, "timeout": 0}, 5), 6)


def _acknowledged(result: Result | None) -> bool:
    return result is None or result.acknowledged
