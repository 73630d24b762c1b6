"""Twilio SMS connector: texts in by signed webhooks, out through the Messages API at the number's pace, and
reconciliation from Twilio's message log for what arrived while the CRM could not take it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from connectors.twilio_sms import convert, inbound
from connectors.twilio_sms.config import E164, TwilioSmsConfig
from relay.client import Answer
from relay.connector import (
    Capabilities,
    Check,
    Connector,
    ConnectorKind,
    Context,
    Hook,
    HookRequest,
    Inbound,
    Limit,
    Manifest,
    MediaStream,
    Result,
)
from relay.errors import DeliveryError, MediaError
from relay.model import Attachment, Kind, MediaRef, Message
from relay.reasons import Reason
from relay.receipts import Ranks
from relay.reconcile import Logged, Reconciler, Schedule
from relay.smstext import handset_text, segments

URL_FILE = "u:"


class TwilioSmsConnector(Connector):
    """SMS/MMS through one Twilio number or Messaging Service."""

    config: TwilioSmsConfig

    def __init__(self, name: str, config: TwilioSmsConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        user = config.api_key_sid or config.account_sid
        self.auth = convert.basic(user, (config.api_key_secret or config.auth_token).reveal())
        self.keys = inbound.Keys(
            config.auth_token.reveal().encode(), config.webhook_key.reveal().encode() if config.webhook_key else None
        )
        self.base = config.api_base_url.rstrip("/")
        self.account = f"/{convert.API_VERSION}/Accounts/{config.account_sid}"
        sender = str(config.from_number or config.messaging_service_sid)
        self.sender = {"From": sender} if config.from_number else {"MessagingServiceSid": sender}
        self.ranks = Ranks(ctx.state, ctx.sealer, "tw:", name)
        self.bucket = "r:" + ctx.sealer.digest(f"twilio-number:{config.account_sid}:{sender}")
        schedule = Schedule(
            horizon=config.reconcile_horizon,
            startup=config.reconcile_on_start,
            delay=config.reconcile_delay,
            longest=config.reconcile_max_interval,
        )
        key = "rc:" + ctx.sealer.digest(f"twilio-log:{name}")
        self.reconciler = Reconciler(name, key, ctx.state, self._deliver, self.log_since, schedule, ctx.metrics)

    async def _deliver(self, message: Message) -> Result:
        return await self.ctx.deliver(message)

    def tune(self, manifest: Capabilities) -> Capabilities:
        """The configured length, MMS on or off, and the per-recipient limit."""
        caps = super().tune(manifest)
        per_recipient = Limit("chat", rate=self.config.recipient_rate, per=1.0, burst=self.config.recipient_burst)
        return replace(caps, max_text=self.config.max_length, files=self.config.mms, limits=(per_recipient,))

    def routes(self) -> Sequence[Hook]:
        def signed(path: str) -> Any:
            url = self.ctx.hook_url(path)
            return lambda request: inbound.authenticate(self.keys, url, request)

        def message(request: HookRequest, params: inbound.Form) -> Inbound:
            return inbound.parse_message(self.name, self.config.account_sid, params)

        return (
            Hook("POST", "", signed(""), message, settle=self._settle_message),
            Hook("POST", "/", signed("/"), message, settle=self._settle_message),
            Hook("POST", "/status", signed("/status"), self._parse_status, settle=self._settle_status),
        )

    async def start(self) -> None:
        if self.config.reconcile:
            self.ctx.spawn(self.reconciler.run(), "reconcile")

    async def _settle_message(self, message: Message, result: Result) -> Result:
        """A text the CRM did not take: Twilio retries once at most, so the log is read again later."""
        if not result.acknowledged and self.config.reconcile:
            await self.reconciler.failed()
        return result

    async def _parse_status(self, request: HookRequest, params: inbound.Form) -> Inbound:
        """A delivery status, unless one as final or more was already passed on (callbacks come out of order)."""
        found = inbound.parse_status(self.name, self.config.account_sid, params)
        return Inbound() if found is None else await self.ranks.fresh(*found)

    async def _settle_status(self, message: Message, result: Result) -> Result:
        return await self.ranks.settle(message, result, convert.RANK.get(message.id.rpartition(":")[2], 0))

    async def send(self, message: Message) -> str:
        to = message.conversation.chat
        if not re.fullmatch(E164, to):
            raise DeliveryError(Reason.INVALID_RECIPIENT)
        media, lines = self._media(message.attachments)
        body = handset_text(message.text) + lines
        if not body.strip() and not media:
            raise DeliveryError(Reason.EMPTY_MESSAGE)
        await self._pace(1 if media else segments(body))
        receipts = "" if message.kind is Kind.NOTICE else self.ctx.hook_url("/status")
        form = convert.send_form(to, self.sender, body, media, receipts)
        answer = await self._api("POST", "/Messages.json", body=urlencode(form).encode())
        try:
            return convert.sent_sid(answer)
        except DeliveryError as exc:
            if exc.reason is Reason.THROTTLED and exc.retry_after:
                await self.ctx.state.block(self.bucket, exc.retry_after)
            raise

    def _media(self, attachments: Sequence[Attachment]) -> tuple[list[str], str]:
        """Relay links Twilio fetches each file from (nothing is spooled), and a line for files without one."""
        links: list[str] = []
        lines = ""
        for att in attachments:
            if att.caption:
                lines += "\n" + handset_text(att.caption)
            ref = att.ref or (MediaRef(self.name, URL_FILE + att.url) if att.url else None)
            link = self.ctx.media.link(replace(att, ref=ref)) if ref else None
            if link:
                links.append(link)
            else:
                lines += f"\n📎 {att.name} (file could not be relayed)"
        return links, lines

    async def _pace(self, count: int) -> None:
        """Wait for the number's throughput (`count` segments at its rate, shared by every replica on Redis)."""
        wait = await self.ctx.state.reserve(self.bucket, count / self.config.rate, 1)
        if wait > 0:
            self.ctx.metrics.inc("relay_ratelimit_waits_total", connector=self.name)
            await asyncio.sleep(wait)

    async def _api(self, method: str, path: str, **more: Any) -> Answer:
        full = path if path.startswith(f"/{convert.API_VERSION}/") else self.account + path
        call = convert.api_call(self.base, self.auth, method, full, self.config.timeout, **more)
        return await self.ctx.client.call(call)

    async def fetch_media(self, file_id: str, limit: int) -> MediaStream:
        """A customer's MMS file from Twilio (with the account's credentials, following Twilio's redirect to
        its media host), or a CRM file Twilio fetches through the relay link."""
        if file_id.startswith(URL_FILE):
            return await self.ctx.media.fetch_url(file_id[len(URL_FILE) :], limit, "application/octet-stream", "file")
        path = convert.media_path(self.config.account_sid, file_id)
        if path is None:
            raise MediaError("not a Twilio media id")
        call = convert.api_call(
            self.base, self.auth, "GET", path, 120.0, read_timeout=30.0, redirects=3, hosts=self.config.media_hosts
        )
        return await self.ctx.client.stream(call, limit)

    async def log_since(self, floor: float) -> AsyncIterator[Logged]:
        """Messages customers sent to the business numbers since `floor`, newest first, from Twilio's log."""
        day = datetime.fromtimestamp(floor, UTC).strftime("%Y-%m-%d")
        for number in self.config.inbound_numbers:
            path: str | None = "/Messages.json"
            params: dict[str, str] | None = {"To": number, "DateSent>": day, "PageSize": "200"}
            while path is not None:
                answer = await self._api("GET", path, params=params, idempotent=True)
                if not answer.ok:
                    raise convert.refusal(answer)
                items, path = convert.page(answer.json())
                params = None
                for item in items:
                    at = convert.when(item.get("date_sent"))
                    if at is not None and at.timestamp() < floor:
                        path = None
                        break
                    found = await self._logged(item)
                    if found is not None:
                        yield found

    async def _logged(self, item: dict[str, Any]) -> Logged | None:
        media: list[tuple[str, str]] = []
        count = str(item.get("num_media") or "0")
        if item.get("direction") == "inbound" and count.isdigit() and int(count) > 0:
            answer = await self._api("GET", f"/Messages/{item.get('sid')}/Media.json", idempotent=True)
            if not answer.ok:
                raise convert.refusal(answer)
            media = convert.media_urls(answer.json())
        return convert.logged(self.name, self.config.account_sid, item, media)

    async def check(self) -> list[Check]:
        what = "Twilio account and credentials"
        try:
            answer = await self._api("GET", self.account + ".json")
        except DeliveryError as exc:
            return [Check(what, False, exc.reason.value)]
        checks = [Check(what, answer.ok, f"HTTP {answer.status}")]
        if self.config.from_number and answer.ok:
            checks.append(await self._number_check(self.config.from_number))
        return checks

    async def _number_check(self, number: str) -> Check:
        what = "number's incoming-message webhook"
        try:
            answer = await self._api("GET", "/IncomingPhoneNumbers.json", params={"PhoneNumber": number})
        except DeliveryError as exc:
            return Check(what, False, exc.reason.value)
        data = answer.json()
        rows = data.get("incoming_phone_numbers") if isinstance(data, dict) else None
        if not answer.ok or not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
            return Check(what, None, f"number not listed (HTTP {answer.status})")
        wanted = {self.ctx.hook_url(""), self.ctx.hook_url("/")}
        ok = rows[0].get("sms_url") in wanted
        return Check(what, ok, "points at this relay" if ok else f"set it to {self.ctx.hook_url('')} (HTTP POST)")


MANIFEST = Manifest(
    type="twilio_sms",
    kind=ConnectorKind.MESSENGER,
    summary="SMS and MMS through Twilio",
    config=TwilioSmsConfig,
    factory=TwilioSmsConnector,
    capabilities=Capabilities(
        max_text=1600,
        text_unit="utf16",
        files=True,
        max_file_bytes=5 << 20,
        max_files=10,
        max_caption=1600,
        ack_deadline=12.0,
        consent_keywords=True,
    ),
)
