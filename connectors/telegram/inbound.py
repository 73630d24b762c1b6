"""Updates in: the secret-token webhook route and the long-polling loop."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError

from connectors.telegram.convert import ALLOWED_UPDATES
from relay.connector import Result
from relay.credential import header_credential, same
from relay.errors import AuthError, BadRequest
from relay.http import parse_json, read_body, respond

if TYPE_CHECKING:
    from connectors.telegram.connector import TelegramConnector

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def authenticate(expected: bytes, header: str | None) -> None:
    """Constant-time check of Telegram's secret-token header; 403 when missing or different."""
    if not header:
        raise AuthError("missing X-Telegram-Bot-Api-Secret-Token header", 403)
    if not same(header_credential(header, "X-Telegram-Bot-Api-Secret-Token header"), expected):
        raise AuthError("wrong X-Telegram-Bot-Api-Secret-Token", 403)


async def handle_webhook(conn: TelegramConnector, request: web.Request) -> web.Response:
    """POST /hooks/<instance>/: one update from Telegram, answered once the CRM took it."""
    authenticate(conn.secret, request.headers.get(SECRET_HEADER))
    data = parse_json(await read_body(request))
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise BadRequest("not a Telegram update")
    pending = conn.handle_update(data)
    del data
    result = await pending
    if result is None:
        return web.json_response({"status": "ignored"})
    return respond(result)


def _chat_of(update: dict[str, Any]) -> str:
    for value in update.values():
        if isinstance(value, dict) and isinstance(value.get("chat"), dict):
            return str(value["chat"].get("id"))
    return ""


class Poller:
    """getUpdates long polling for one replica (a lease in the state store); the offset only
    moves past updates whose delivery was acknowledged, so Telegram keeps the rest for us."""

    def __init__(self, conn: TelegramConnector) -> None:
        self.conn = conn
        self.offset: int | None = None
        self.confirmed: int | None = None
        self.polls = 0
        self.holder = secrets.token_hex(12)
        self.lease_key = "poll:" + conn.ctx.sealer.digest(conn.name)
        self.lease_ttl = conn.config.poll_timeout + conn.config.timeout + 10

    async def run(self) -> None:
        """Remove any webhook, then poll until cancelled."""
        await self._until_ok(self._delete_webhook)
        while True:
            if not await self.conn.ctx.state.lease(self.lease_key, self.holder, self.lease_ttl):
                await asyncio.sleep(min(5.0, self.conn.config.poll_retry_pause))
                continue
            try:
                pause = await self.poll_once()
            except Exception as exc:
                self.conn.ctx.log.error(
                    "polling failed", extra={"connector": self.conn.name, "error": type(exc).__name__}
                )
                pause = self.conn.config.poll_retry_pause
            if pause:
                await asyncio.sleep(pause)

    async def _delete_webhook(self) -> None:
        await self.conn.bot.delete_webhook(drop_pending_updates=False)

    async def _until_ok(self, call: Any) -> None:
        delay = 1.0
        while True:
            try:
                await call()
                return
            except TelegramError as exc:
                self.conn.ctx.log.warning(
                    "deleteWebhook failed", extra={"connector": self.conn.name, "error": type(exc).__name__}
                )
                await asyncio.sleep(delay)
                delay = min(60.0, delay * 2)

    async def fetch(self, timeout: int) -> list[dict[str, Any]]:
        """One getUpdates call from the current offset (which also confirms everything before it)."""
        kwargs: dict[str, Any] = {"timeout": timeout, "allowed_updates": list(ALLOWED_UPDATES)}
        if self.offset is not None:
            kwargs["offset"] = self.offset
        raw = await self.conn.bot.raw_updates(kwargs, read_timeout=timeout + self.conn.config.timeout)
        self.confirmed = self.offset
        self.polls += 1
        return [u for u in raw if isinstance(u, dict) and isinstance(u.get("update_id"), int)]

    async def poll_once(self) -> float:
        """Fetch and deliver one batch; return how long to pause before the next poll."""
        cfg = self.conn.config
        try:
            updates = await self.fetch(cfg.poll_timeout)
        except RetryAfter:
            return cfg.poll_retry_pause
        except (Conflict, InvalidToken) as exc:
            self.conn.ctx.log.error(
                "getUpdates refused", extra={"connector": self.conn.name, "error": type(exc).__name__}
            )
            return max(cfg.poll_retry_pause, 30.0)
        except TelegramError as exc:
            self.conn.ctx.log.warning(
                "getUpdates failed", extra={"connector": self.conn.name, "error": type(exc).__name__}
            )
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
                result = await self.conn.handle_update(update)
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
            await asyncio.wait_for(self.conn.bot.raw_updates({"offset": self.offset, "limit": 1, "timeout": 0}, 5), 6)


def _acknowledged(result: Result | None) -> bool:
    return result is None or result.acknowledged
