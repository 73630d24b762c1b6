"""Telegram connector: Bot API through python-telegram-bot; webhook or long polling in, sends out."""

from __future__ import annotations

import logging
import mimetypes
import os
from collections.abc import Sequence
from functools import partial
from typing import Any

from telegram import InlineKeyboardMarkup, InputFile, ReplyParameters
from telegram import Message as TgMessage
from telegram.error import BadRequest, ChatMigrated, InvalidToken, TelegramError

from connectors.telegram import inbound
from connectors.telegram.config import TelegramConfig
from connectors.telegram.convert import ALLOWED_UPDATES, Accept, grouped, parse_platform_id, platform_id
from connectors.telegram.errors import delivery_error, is_no_text, is_not_modified
from connectors.telegram.interact import MAX_BUTTONS, keyboard, reaction
from connectors.telegram.markup import fits, ptb_entities, render
from connectors.telegram.transport import AiohttpRequest, RelayBot
from relay.client import Call
from relay.connector import Capabilities, Check, Connector, ConnectorKind, Context, Hook, Limit, Manifest, MediaStream
from relay.errors import DeliveryError, MediaError, RelayError
from relay.model import Address, Attachment, Kind, Message
from relay.reasons import Reason
from relay.richtext import RichText

os.environ.setdefault("PTB_TIMEDELTA", "true")
for _noisy in ("httpx", "httpcore", "telegram"):
    if logging.getLogger(_noisy).level < logging.WARNING:
        logging.getLogger(_noisy).setLevel(logging.WARNING)

CAPTION_MAX = 1024
PHOTO_MAX = 10 * 1024 * 1024
UPLOAD_MAX = 50 * 1024 * 1024
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")
BOT_LIMIT = Limit("connector", rate=30, per=1.0, burst=30)
PRIVATE_LIMIT = Limit("chat", rate=1, per=1.0, burst=3)
GROUP_LIMIT = Limit("chat", rate=20, per=60.0, burst=5)


def _sent_id(sent: TgMessage | bool) -> str:
    if isinstance(sent, TgMessage):
        return platform_id(sent.chat.id, sent.message_id)
    raise DeliveryError(Reason.PLATFORM_BAD_RESPONSE)


class TelegramConnector(Connector):
    """A Telegram bot: customers write to it; CRM answers go back through it."""

    config: TelegramConfig

    def __init__(self, name: str, config: TelegramConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        connect = min(10.0, config.timeout)
        request = AiohttpRequest(
            ctx.session,
            connection_pool_size=64,
            read_timeout=config.timeout,
            write_timeout=config.timeout,
            connect_timeout=connect,
            pool_timeout=config.timeout,
            media_write_timeout=60.0,
        )
        polling = AiohttpRequest(
            ctx.session, connection_pool_size=1, read_timeout=config.timeout, connect_timeout=connect
        )
        self.bot = RelayBot(
            config.token.reveal(),
            base_url=config.api_base_url,
            base_file_url=config.file_base_url,
            request=request,
            get_updates_request=polling,
        )
        self._requests = (request, polling)
        self.secret = config.secret_token.reveal().encode() if config.secret_token else b""
        self.accept = Accept(config.accept_private, config.accept_groups)
        self.poller: inbound.Poller | None = None

    def routes(self) -> Sequence[Hook]:
        if self.config.mode != "webhook":
            return ()

        authenticate = partial(inbound.authenticate, self.secret)
        parse = partial(inbound.parse, self.name, self.accept, self.ctx.log, self.answer)
        return (Hook("POST", "/", authenticate, parse), Hook("POST", "", authenticate, parse))

    async def start(self) -> None:
        if self.config.mode == "polling":
            self.poller = inbound.Poller(self.name, self.config, self.bot, self.ctx, self.accept, self.answer)
            self.ctx.spawn(self.poller.run(), "poll")
            return
        try:
            await self.bot.set_webhook(
                url=self.ctx.hook_url("/"), secret_token=self.secret.decode(), allowed_updates=list(ALLOWED_UPDATES)
            )
        except TelegramError as exc:
            raise RelayError(f"setWebhook failed ({type(exc).__name__})") from None

    def answer(self, query_id: str) -> None:
        """Answer a callback query in the background: the customer's button stops spinning."""
        self.ctx.spawn(self._answer(query_id), "answer-callback")

    async def _answer(self, query_id: str) -> None:
        try:
            await self.bot.answer_callback_query(query_id)
        except TelegramError as exc:
            self.ctx.log.info("answerCallbackQuery failed", extra={"connector": self.name, "error": type(exc).__name__})

    async def close(self) -> None:
        await super().close()
        if self.poller is not None:
            await self.poller.confirm()
        for request in self._requests:
            await request.shutdown()

    def limits(self, address: Address) -> Sequence[Limit]:
        """The bot's limit, and the per-chat one for the chat's type (both on the manifest)."""
        return (GROUP_LIMIT if grouped(address) else PRIVATE_LIMIT, BOT_LIMIT)

    async def send(self, message: Message) -> str:
        try:
            chat = int(message.conversation.chat)
        except ValueError:
            raise DeliveryError(Reason.INVALID_RECIPIENT) from None
        try:
            try:
                return await self._send(message, chat)
            except ChatMigrated as moved:
                return await self._send(message, int(moved.new_chat_id))
        except TelegramError as exc:
            raise delivery_error(exc) from None

    async def _send(self, message: Message, chat: int) -> str:
        if message.kind is Kind.EDIT:
            return await self._edit(message)
        if message.kind is Kind.DELETE:
            target = parse_platform_id(message.ref)
            if target is None:
                raise DeliveryError(Reason.UNKNOWN_MESSAGE)
            await self.bot.delete_message(chat_id=target[0], message_id=target[1])
            return message.ref or ""
        thread = int(message.conversation.thread) if message.conversation.thread else None
        if message.kind is Kind.TYPING:
            await self.bot.send_chat_action(chat_id=chat, action="typing", message_thread_id=thread)
            return f"{chat}:typing"
        if message.kind is Kind.REACTION:
            return await self._react(message, chat)
        common: dict[str, Any] = {"chat_id": chat, "reply_parameters": self._reply(message, chat)}
        if thread is not None:
            common["message_thread_id"] = thread
        markup = keyboard(message.choices) if message.choices is not None else None
        if message.attachments:
            return await self._send_files(message, common, markup)
        text = message.text
        if not text.plain.strip() and message.choices is not None:
            text = RichText.of(message.choices.button or "Please choose:")
        if not text.plain.strip():
            raise DeliveryError(Reason.EMPTY_MESSAGE)
        return await self._send_text(text, common | {"reply_markup": markup})

    async def _react(self, message: Message, chat: int) -> str:
        """setMessageReaction on `ref` ("" removes it); an emoji Telegram does not offer goes as text once."""
        target = parse_platform_id(message.ref)
        if target is None:
            raise DeliveryError(Reason.UNKNOWN_MESSAGE)
        kinds = reaction(message.reaction)
        if kinds is None:
            reply = {"reply_parameters": ReplyParameters(message_id=target[1], allow_sending_without_reply=True)}
            return await self._send_text(RichText.of(f"(reacted {message.reaction})"), {"chat_id": chat} | reply)
        await self.bot.set_message_reaction(chat_id=target[0], message_id=target[1], reaction=kinds)
        return platform_id(*target)

    def _reply(self, message: Message, chat: int) -> ReplyParameters | None:
        target = parse_platform_id(message.ref)
        if target is None or target[0] != chat:
            return None
        return ReplyParameters(message_id=target[1], allow_sending_without_reply=True)

    async def _send_text(self, text: RichText, common: dict[str, Any]) -> str:
        plain, entities = render(text)
        return _sent_id(await self.bot.send_message(text=plain, entities=ptb_entities(entities), **common))

    async def _send_files(self, message: Message, common: dict[str, Any], markup: InlineKeyboardMarkup | None) -> str:
        """The files, the first replying and captioned with the text if it fits; the keyboard on the last send."""
        as_caption = bool(message.text) and fits(message.text, CAPTION_MAX)
        first: str | None = None
        last = len(message.attachments) - 1 if as_caption or not message.text else -1
        for i, att in enumerate(message.attachments):
            caption = message.text if i == 0 and as_caption else att.caption if fits(att.caption, CAPTION_MAX) else None
            extra = {"reply_markup": markup if i == last else None} | ({} if i == 0 else {"reply_parameters": None})
            sent = await self._upload(att, caption, common | extra)
            first = first or sent
        if message.text and not as_caption:
            await self._send_text(message.text, common | {"reply_parameters": None, "reply_markup": markup})
        return first or ""

    async def _upload(self, att: Attachment, caption: RichText | None, common: dict[str, Any]) -> str:
        data = await self.ctx.media.read(att, UPLOAD_MAX)
        file = InputFile(data, filename=att.name or "file")
        plain, entities = render(caption) if caption else (None, [])
        extra: dict[str, Any] = {"caption": plain or None, "caption_entities": ptb_entities(entities)}
        if att.mime in PHOTO_TYPES and len(data) <= PHOTO_MAX:
            return _sent_id(await self.bot.send_photo(photo=file, **extra, **common))
        return _sent_id(await self.bot.send_document(document=file, **extra, **common))

    async def _edit(self, message: Message) -> str:
        target = parse_platform_id(message.ref)
        if target is None:
            raise DeliveryError(Reason.UNKNOWN_MESSAGE)
        plain, entities = render(message.text)
        where: dict[str, Any] = {"chat_id": target[0], "message_id": target[1]}
        try:
            try:
                await self.bot.edit_message_text(text=plain, entities=ptb_entities(entities), **where)
            except BadRequest as exc:
                if not is_no_text(exc):
                    raise
                await self.bot.edit_message_caption(caption=plain, caption_entities=ptb_entities(entities), **where)
        except BadRequest as exc:
            if not is_not_modified(exc):
                raise
        return platform_id(*target)

    async def fetch_media(self, file_id: str, limit: int) -> MediaStream:
        try:
            found = await self.bot.get_file(file_id)
        except BadRequest:
            raise MediaError("Telegram refused the file (too big for bots, or expired)") from None
        except TelegramError as exc:
            raise MediaError(f"Telegram getFile failed ({type(exc).__name__})") from None
        url = found.file_path or ""
        if found.file_size is not None and found.file_size > limit:
            raise MediaError(f"file is larger than the {limit}-byte cap")
        if not url.startswith(("https://", "http://")):
            raise MediaError("Telegram gave no downloadable path for the file")
        name = url.rsplit("/", 1)[-1]
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return await self.ctx.client.stream(Call("GET", url), limit, mime=mime, name=name)

    async def check(self) -> list[Check]:
        try:
            me = await self.bot.get_me()
        except InvalidToken:
            return [Check("getMe", False, "token rejected by Telegram")]
        except TelegramError as exc:
            return [Check("getMe", False, f"Telegram not reachable ({type(exc).__name__})")]
        checks = [Check("getMe", True, f"@{me.username}")]
        try:
            info = await self.bot.get_webhook_info()
        except TelegramError as exc:
            return [*checks, Check("getWebhookInfo", False, type(exc).__name__)]
        pending = f"{info.pending_update_count} pending"
        if self.config.mode == "polling":
            detail = "a webhook is set; starting the relay removes it" if info.url else "no webhook; long polling"
            return [*checks, Check("getWebhookInfo", True, f"{detail}, {pending}")]
        if not info.url:
            return [*checks, Check("getWebhookInfo", True, f"not set yet; set when the relay starts, {pending}")]
        ours = info.url == self.ctx.hook_url("/")
        detail = "set to this relay" if ours else "set to another URL (another deployment uses this bot?)"
        error = f", last error: {info.last_error_message[:120]}" if info.last_error_message else ""
        return [*checks, Check("getWebhookInfo", ours, f"{detail}, {pending}{error}")]


MANIFEST = Manifest(
    type="telegram",
    kind=ConnectorKind.MESSENGER,
    summary="Telegram bot",
    config=TelegramConfig,
    factory=TelegramConnector,
    capabilities=Capabilities(
        max_text=4096,
        text_unit="utf16",
        replies=True,
        edits=True,
        deletes=True,
        files=True,
        max_file_bytes=UPLOAD_MAX,
        max_caption=CAPTION_MAX,
        reactions=True,
        max_buttons=MAX_BUTTONS,
        max_list=MAX_BUTTONS,
        url_buttons=True,
        typing=True,
        limits=(BOT_LIMIT, PRIVATE_LIMIT, GROUP_LIMIT),
        ack_deadline=50.0,
    ),
)
