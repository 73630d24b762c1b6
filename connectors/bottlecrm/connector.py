"""BottleCRM connector: customer messages become inbound interactions; agents' replies come back by webhook."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from connectors.bottlecrm import convert, inbound
from connectors.bottlecrm.client import Api
from connectors.bottlecrm.convert import BottleCrmConfig, marker_in, with_marker
from relay.connector import Capabilities, Check, Connector, ConnectorKind, Context, Limit, Manifest, Route
from relay.errors import DeliveryError
from relay.model import Kind, Message, Party, Status

NOTE_KINDS = (Kind.STATUS, Kind.NOTICE, Kind.OPT_OUT, Kind.OPT_IN)


@dataclass(frozen=True, slots=True)
class Record:
    """A contact or lead in BottleCRM; `notes` is its description when already fetched."""

    home: str
    id: str
    notes: str | None = None
    known: bool = False

    @property
    def path(self) -> str:
        return f"/api/{self.home}s/{self.id}/"


class BottleCrmConnector(Connector):
    """Relay -> CRM through the REST API with a personal access token; CRM -> relay through signed webhooks."""

    config: BottleCrmConfig

    def __init__(self, name: str, config: BottleCrmConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        self.api = Api(ctx.session, config.base, config.api_token.reveal(), config.timeout)
        self.secret = config.webhook_secret.reveal().encode()
        self.profile_id = config.relay_profile_id

    def routes(self) -> Sequence[Route]:
        async def post(request: web.Request) -> web.Response:
            return await inbound.handle(self, request)

        return (Route("POST", "", post), Route("POST", "/", post))

    async def start(self) -> None:
        if self.profile_id is None:
            try:
                self.profile_id = await self._own_profile()
            except DeliveryError as exc:
                self.ctx.log.warning(
                    "relay profile not known; replies are filtered by direction only", extra={"reason": exc.reason}
                )

    async def _own_profile(self) -> str | None:
        _, me = await self.api.get("/api/profile/")
        profile = me.get("user_obj") if isinstance(me, dict) else None
        return str(profile["id"]) if isinstance(profile, dict) and profile.get("id") else None

    async def send(self, message: Message) -> str:
        if message.kind is Kind.STATUS and message.status is not Status.FAILED:
            return f"status:{message.id}"
        sealed = self.ctx.sealer.seal(message.conversation)
        if message.kind in NOTE_KINDS:
            record = await self.find(message, sealed, create=False)
            if record is None:
                raise DeliveryError("crm_record_not_found")
            reply = await self.api.post(record.path, {"comment": convert.system_note(message)})
            return convert.first_id(reply.get("comments") if isinstance(reply, dict) else None) or record.id
        record = await self.find(message, sealed, create=True)
        assert record is not None
        kind = self.config.kind_for(message.conversation.instance)
        body = convert.interaction_body(message, record.home, record.id, kind, self.ctx.media.link)
        created = await self.api.post("/api/interactions/", body)
        if not isinstance(created, dict) or not created.get("id"):
            raise DeliveryError("crm_bad_response")
        return str(created["id"])

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
            created = await self.api.post(f"/api/{home}s/", convert.record_fields(message, home, sealed, tag, kind))
            if not isinstance(created, dict) or not created.get("id"):
                raise DeliveryError("crm_bad_response")
            self.ctx.log.info("crm record created", extra={"record": home, "record_id": created["id"]})
            record = Record(home, str(created["id"]), known=True)
        return record

    async def _by_contact_details(self, sender: Party) -> Record | None:
        query = {k: v for k, v in (("phone", sender.phone), ("email", sender.email)) if v}
        homes = ("contact", "lead") if self.config.record == "lead" else ("contact",)
        for home in homes:
            found = await self.api.post(f"/api/{home}s/duplicates/", query, idempotent=True)
            rid = convert.first_id(found.get("duplicates") if isinstance(found, dict) else None)
            if rid:
                return Record(home, rid)
        return None

    async def _by_tag(self, tag: str) -> Record | None:
        homes = ("contact", "lead") if self.config.record == "lead" else ("contact",)
        for home in homes:
            _, page = await self.api.get(f"/api/{home}s/", params={"name": tag})
            for item in _list_rows(home, page):
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
            notes = await self.notes_of(record)
        if marker_in(notes) != sealed:
            await self.api.patch(record.path, {"description": with_marker(notes, sealed)})
        await self.ctx.state.set(mark_key, wanted, self.config.lookup_ttl)

    async def notes_of(self, record: Record) -> str | None:
        """A record's description; None if the record is gone."""
        status, detail = await self.api.get(record.path, ok=(404,))
        if status == 404 or not isinstance(detail, dict):
            return None
        obj = detail.get(f"{record.home}_obj") or {}
        return str(obj.get("description") or "") if isinstance(obj, dict) else ""

    async def conversation_of(self, home: str | None, record_id: str | None) -> str | None:
        """The sealed reference kept in a contact's or lead's notes."""
        if not home or not record_id:
            return None
        return marker_in(await self.notes_of(Record(home, record_id)))

    async def conversation_of_ticket(self, ticket_id: str) -> str | None:
        """The sealed reference in a ticket's description, else in its first contact's notes."""
        status, detail = await self.api.get(f"/api/cases/{ticket_id}/", ok=(404,))
        case = detail.get("cases_obj") if status == 200 and isinstance(detail, dict) else None
        if not isinstance(case, dict):
            return None
        return marker_in(case.get("description")) or await self.conversation_of(
            "contact", convert.first_id(case.get("contacts"))
        )

    async def check(self) -> list[Check]:
        checks: list[Check] = []
        try:
            profile = await self._own_profile()
            checks.append(Check("API token", profile is not None, "GET /api/profile/ answered 200"))
        except DeliveryError as exc:
            return [Check("API token", False, exc.reason)]
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
        what, url = "webhook registered", self.ctx.hook_url("/")
        event = "interaction.created" if self.config.reply_source == "interaction" else "ticket.comment_added"
        try:
            status, body = await self.api.get("/api/webhooks/", ok=(403,))
        except DeliveryError as exc:
            return Check(what, False, exc.reason)
        if status == 403:
            return Check(
                what,
                None,
                "unknown: BottleCRM API tokens cannot read webhooks; register it with "
                f"`relay bottlecrm register-webhook` (URL {url}, event {event})",
            )
        endpoints = body.get("endpoints") if isinstance(body, dict) else None
        for ep in endpoints if isinstance(endpoints, list) else []:
            if isinstance(ep, dict) and str(ep.get("url", "")).rstrip("/") == url.rstrip("/"):
                ok = bool(ep.get("is_active")) and event in (ep.get("events") or [])
                return Check(what, ok, "active" if ok else f"found but inactive or without {event}")
        return Check(what, False, f"no webhook for {url}; run `relay bottlecrm register-webhook`")


def _list_rows(home: str, page: Any) -> list[dict[str, Any]]:
    if not isinstance(page, dict):
        return []
    rows = page.get("results") if home == "contact" else (page.get("open_leads") or {}).get("open_leads")
    return [r for r in rows if isinstance(r, dict) and r.get("id")] if isinstance(rows, list) else []


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
    ),
)
