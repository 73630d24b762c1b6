"""BottleCRM connector: customer messages become inbound interactions; agents' replies come back by webhook."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.bottlecrm import convert, inbound
from connectors.bottlecrm.config import BottleCrmConfig
from connectors.bottlecrm.convert import Record, marker_in, with_marker
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
)
from relay.errors import DeliveryError
from relay.model import Kind, Message, Party, Status
from relay.reasons import Reason

NOTE_KINDS = (Kind.STATUS, Kind.NOTICE, Kind.OPT_OUT, Kind.OPT_IN)


class BottleCrmConnector(Connector):
    """Relay -> CRM through the REST API with a personal access token; CRM -> relay through signed webhooks."""

    config: BottleCrmConfig

    def __init__(self, name: str, config: BottleCrmConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        self.crm = inbound.Crm(ctx.client, config, config.relay_profile_id)
        self.secret = config.webhook_secret.reveal().encode()

    def routes(self) -> Sequence[Hook]:
        def authenticate(request: HookRequest) -> None:
            inbound.authenticate(self.secret, request)

        async def parse(request: HookRequest, _: Any) -> Inbound:
            return await inbound.parse(self.name, self.crm, self.ctx.sealer, self.ctx.log, request)

        return (Hook("POST", "", authenticate, parse), Hook("POST", "/", authenticate, parse))

    async def start(self) -> None:
        if self.crm.profile_id is None:
            try:
                self.crm.profile_id = await self._own_profile()
            except DeliveryError as exc:
                self.ctx.log.warning(
                    "relay profile not known; replies are filtered by direction only", extra={"reason": exc.reason}
                )

    async def _own_profile(self) -> str | None:
        _, me = await self.crm.ask("GET", "/api/profile/")
        return convert.profile_id(me)

    async def send(self, message: Message) -> str:
        if message.kind is Kind.STATUS and message.status is not Status.FAILED:
            return f"status:{message.id}"
        sealed = self.ctx.sealer.seal(message.conversation)
        if message.kind in NOTE_KINDS:
            record = await self.find(message, sealed, create=False)
            if record is None:
                raise DeliveryError(Reason.RECORD_NOT_FOUND)
            _, reply = await self.crm.ask("POST", record.path, {"comment": convert.system_note(message)})
            return convert.first_id(reply.get("comments") if isinstance(reply, dict) else None) or record.id
        record = await self.find(message, sealed, create=True)
        assert record is not None
        if message.kind is Kind.CALL:
            body = convert.call_interaction(message, record.home, record.id, self.ctx.media.link)
        else:
            kind = self.config.kind_for(message.conversation.instance)
            body = convert.interaction_body(message, record.home, record.id, kind)
        _, created = await self.crm.ask("POST", "/api/interactions/", body)
        return convert.created_id(created)

    def _key(self, prefix: str, value: str) -> str:
        return f"bcrm:{prefix}:" + self.ctx.sealer.digest(f"{self.name}:{value}")

    async def find(self, message: Message, sealed: str, *, create: bool) -> Record | None:
        """The sender's contact (or lead), found by cache, phone/e-mail, or identity tag; created if asked."""
        key = self._key("r", sealed)
        cached = await self.ctx.state.get(key)
        if cached:
            home, _, rid = cached.partition(":")
            record: Record | None = Record(home, rid)
        else:
            record = await self._lookup(message, sealed, create)
        if record is None:
            return None
        if not record.known:
            await self._ensure_marker(record, sealed)
        await self.ctx.state.set(key, f"{record.home}:{record.id}", self.config.lookup_ttl)
        return record

    async def _lookup(self, message: Message, sealed: str, create: bool) -> Record | None:
        sender = message.sender or Party(id="")
        tag = None
        if sender.phone or sender.email:
            record = await self._by_contact_details(sender)
        else:
            a = message.conversation
            tag = convert.identity_tag(self.ctx.sealer.digest(f"identity:{a.instance}:{a.chat}:{a.thread}"))
            record = await self._by_tag(tag)
        if record is None and create:
            kind = self.config.kind_for(message.conversation.instance)
            home = self.config.record
            fields = convert.record_fields(message, home, sealed, tag, kind)
            _, created = await self.crm.ask("POST", f"/api/{home}s/", fields)
            record = Record(home, convert.created_id(created), known=True)
            self.ctx.log.info("crm record created", extra={"record": home, "record_id": record.id})
        return record

    def _homes(self) -> tuple[str, ...]:
        return ("contact", "lead") if self.config.record == "lead" else ("contact",)

    async def _by_contact_details(self, sender: Party) -> Record | None:
        query = {k: v for k, v in (("phone", sender.phone), ("email", sender.email)) if v}
        for home in self._homes():
            _, found = await self.crm.ask("POST", f"/api/{home}s/duplicates/", query, idempotent=True)
            rid = convert.first_id(found.get("duplicates") if isinstance(found, dict) else None)
            if rid:
                return Record(home, rid)
        return None

    async def _by_tag(self, tag: str) -> Record | None:
        for home in self._homes():
            _, page = await self.crm.ask("GET", f"/api/{home}s/", params={"name": tag})
            for item in convert.list_rows(home, page):
                if f"[{tag}]" in str(item.get("last_name") or ""):
                    return Record(home, str(item["id"]), notes=item.get("description") or "")
        return None

    async def _ensure_marker(self, record: Record, sealed: str) -> None:
        """Keep the record's notes pointing at this conversation (the CRM holds the reference, not the relay)."""
        mark_key = self._key("m", f"{record.home}:{record.id}")
        wanted = self.ctx.sealer.digest(sealed)
        if await self.ctx.state.get(mark_key) == wanted:
            return
        notes = record.notes
        if notes is None:
            notes = await self.crm.notes_of(record)
        if marker_in(notes) != sealed:
            await self.crm.ask("PATCH", record.path, {"description": with_marker(notes, sealed)}, idempotent=True)
        await self.ctx.state.set(mark_key, wanted, self.config.lookup_ttl)

    async def check(self) -> list[Check]:
        checks: list[Check] = []
        try:
            profile = await self._own_profile()
            checks.append(Check("API token", profile is not None, "GET /api/profile/ answered 200"))
        except DeliveryError as exc:
            return [Check("API token", False, str(exc))]
        secret_ok = self.config.webhook_secret.reveal().startswith("whsec_")
        checks.append(
            Check(
                "webhook secret",
                secret_ok,
                "whsec_... format"
                if secret_ok
                else "expected the whsec_... secret BottleCRM showed when the webhook was registered",
            )
        )
        checks.append(await self._webhook_check())
        return checks

    async def _webhook_check(self) -> Check:
        what, url, event = "webhook registered", self.ctx.hook_url("/"), self.config.reply_event
        try:
            status, body = await self.crm.ask("GET", "/api/webhooks/", ok=(403,))
        except DeliveryError as exc:
            return Check(what, False, str(exc))
        if status == 403:
            return Check(
                what,
                None,
                "unknown: BottleCRM API tokens cannot read webhooks; register it with "
                f"`relay bottlecrm register-webhook` (URL {url}, event {event})",
            )
        for ep in convert.endpoints(body):
            if str(ep.get("url", "")).rstrip("/") == url.rstrip("/"):
                ok = bool(ep.get("is_active")) and event in (ep.get("events") or [])
                return Check(what, ok, "active" if ok else f"found but inactive or without {event}")
        return Check(what, False, f"no webhook for {url}; run `relay bottlecrm register-webhook`")


MANIFEST = Manifest(
    type="bottlecrm",
    kind=ConnectorKind.CRM,
    summary="BottleCRM (django-crm)",
    config=BottleCrmConfig,
    factory=BottleCrmConnector,
    capabilities=Capabilities(
        max_text=9000,
        limits=(Limit("connector", rate=10, per=1.0, burst=20),),
        ack_deadline=8.0,
        calls=True,
    ),
)
