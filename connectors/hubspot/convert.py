"""Pure conversions for HubSpot custom channels: Message -> publish and status bodies, answers -> ids or
Reasons, OAuth token answers, the outgoing-message webhook -> Message, contact lookups."""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relay import codec
from relay.client import Answer
from relay.errors import DeliveryError
from relay.model import Address, Attachment, Kind, MediaRef, Message, Party, Status
from relay.reasons import Reason
from relay.richtext import RichText, to_html
from relay.secret import Secret
from relay.tokens import Grant, TokenRevoked

OUTGOING = "OUTGOING_CHANNEL_MESSAGE_CREATED"
PHONE, EMAIL, OPAQUE = "HS_PHONE_NUMBER", "HS_EMAIL_ADDRESS", "CHANNEL_SPECIFIC_OPAQUE_ID"
SYSTEM_LINES = {
    Kind.OPT_OUT: "(the customer opted out of messages on this channel)",
    Kind.OPT_IN: "(the customer opted in to messages on this channel again)",
}
STATUSES = {Status.SENT: "SENT", Status.READ: "READ", Status.FAILED: "FAILED"}
REFUSED_GRANTS = {"invalid_grant", "invalid_client", "unauthorized_client", "BAD_REFRESH_TOKEN", "BAD_AUTH_CODE"}


def bearer(token: Secret, json: bool = True) -> dict[str, str]:
    """Request headers carrying the OAuth access token."""
    headers = {"Authorization": f"Bearer {token.reveal()}"}
    if json:
        headers["Content-Type"] = "application/json"
    return headers


def idempotency_source(message: Message) -> str:
    """What the integrationIdempotencyId is a keyed digest of: the platform's message id, and which part
    of it this is when the core split it (parts differ in text and files), so a redelivery maps to it."""
    files = ",".join(f"{a.name}:{a.size}" for a in message.attachments)
    return f"hubspot:{message.dedup_id}|{message.text.plain}|{files}"


def _phone(value: str) -> str:
    digits = "".join(c for c in value if c.isdigit())
    return f"+{digits}" if digits else value


def delivery_identifier(sender: Party | None, fallback: str) -> dict[str, str]:
    """The sender's identifier in HubSpot: phone or e-mail when the messenger gave one, else an opaque id."""
    if sender is not None and sender.phone:
        return {"type": PHONE, "value": _phone(sender.phone)}
    if sender is not None and sender.email:
        return {"type": EMAIL, "value": sender.email}
    return {"type": OPAQUE, "value": sender.id if sender is not None and sender.id else fallback}


def usage(mime: str) -> str:
    """HubSpot's fileUsageType for a MIME type."""
    kind = mime.partition("/")[0]
    return {"image": "STICKER" if mime == "image/webp" else "IMAGE", "audio": "AUDIO"}.get(kind, "OTHER")


def text_of(message: Message) -> RichText:
    """The text HubSpot shows: the message's, or a content-free line for what has none."""
    if message.text:
        return message.text
    line = SYSTEM_LINES.get(message.kind)
    return RichText.of(line) if line else RichText()


def publish_body(
    message: Message,
    account: str,
    thread: str,
    idempotency: str,
    files: Sequence[tuple[str, str]],
    opaque: str,
    contact: int | None = None,
) -> dict[str, Any]:
    """The POST …/custom-channels/{channelId}/messages body for one customer message; `files` holds
    (fileId, mime) of the uploaded attachments."""
    text = text_of(message)
    body: dict[str, Any] = {
        "channelAccountId": account,
        "messageDirection": "INCOMING",
        "text": text.plain,
        "integrationThreadId": thread,
        "integrationIdempotencyId": idempotency,
        "senders": [_sender(message.sender, opaque)],
        "timestamp": message.sent_at.isoformat().replace("+00:00", "Z"),
        "attachments": [{"type": "FILE", "fileId": fid, "fileUsageType": usage(mime)} for fid, mime in files],
    }
    html = to_html(text)
    if html != to_html(RichText.of(text.plain)):
        body["richText"] = html
    if message.ref is not None and message.kind in (Kind.TEXT, Kind.MEDIA):
        body["inReplyToId"] = message.ref
    if contact is not None:
        body["associateWithContactId"] = contact
    return body


def _sender(sender: Party | None, opaque: str) -> dict[str, Any]:
    out: dict[str, Any] = {"deliveryIdentifier": delivery_identifier(sender, opaque)}
    if sender is not None and (sender.name or sender.username):
        out["name"] = sender.name or sender.username
    return out


def status_body(message: Message) -> dict[str, str] | None:
    """The status PATCH for a receipt (SENT, READ, FAILED with a content-free reason); None when HubSpot
    has no such status (DELIVERED) or the receipt names no message."""
    found = STATUSES.get(message.status) if message.status is not None else None
    if found is None or not message.ref:
        return None
    body = {"statusType": found}
    if found == "FAILED":
        body["errorMessage"] = f"Not delivered: {(message.reason or Reason.INTERNAL_ERROR.value).replace('_', ' ')}"
    return body


def message_id(answer: Answer) -> str:
    """HubSpot's id of the published message, or PLATFORM_BAD_RESPONSE."""
    data = answer.json()
    found = data.get("id") if isinstance(data, dict) else None
    if isinstance(found, str | int) and str(found):
        return str(found)
    raise DeliveryError(Reason.PLATFORM_BAD_RESPONSE, detail=answer.status)


def refusal(answer: Answer, idempotent: bool = True) -> DeliveryError:
    """A non-2xx HubSpot answer as a Reason: a 429 waits as long as its policy says (Retry-After, else the
    rate-limit interval header, else the policy's window), other statuses follow the core's defaults."""
    data = answer.json()
    body = data if isinstance(data, dict) else {}
    if answer.status == 429:
        policy = str(body.get("policyName") or "")
        wait = answer.retry_after
        if wait is None:
            interval = answer.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "")
            wait = int(interval) / 1000 if interval.isdigit() else None
        if wait is None:
            wait = {"SECONDLY": 1.0, "DAILY": 3600.0}.get(policy, 10.0)
        return DeliveryError(Reason.THROTTLED, retry_after=max(0.5, wait), scope="connector", detail=policy or 429)
    found = answer.refusal(idempotent=idempotent)
    category = body.get("category")
    if isinstance(category, str) and category.isupper() and len(category) < 40:
        found.detail = f"{answer.status} {category}"
    return found


def token_form(config_id: str, secret: Secret, grant: Mapping[str, str]) -> dict[str, str]:
    """The form body of POST /oauth/<version>/token for one grant (refresh_token or authorization_code)."""
    return {"client_id": config_id, "client_secret": secret.reveal(), **grant}


def grant_of(answer: Answer) -> tuple[Grant, Secret | None]:
    """The access token from a token answer (and the refresh token when HubSpot sent one); a refused
    grant (invalid_grant, BAD_REFRESH_TOKEN, …) is TokenRevoked, anything else not usable TOKEN_UNAVAILABLE."""
    data = answer.json()
    body = data if isinstance(data, dict) else {}
    access = body.get("access_token") or body.get("accessToken")
    if answer.ok and isinstance(access, str) and access:
        life = body.get("expires_in", body.get("expiresIn"))
        refresh = body.get("refresh_token") or body.get("refreshToken")
        grant = Grant(Secret(access), float(life) if isinstance(life, int | float) else 1800.0)
        return grant, Secret(refresh) if isinstance(refresh, str) and refresh else None
    code = str(body.get("error") or body.get("status") or "")
    if answer.status in (400, 401, 403) and (code in REFUSED_GRANTS or not code):
        raise TokenRevoked(code or answer.status)
    if answer.status == 429:
        raise refusal(answer)
    raise DeliveryError(Reason.TOKEN_UNAVAILABLE, retry_after=5.0, scope="connector", detail=answer.status)


class HsAttachment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str = "FILE"
    fileId: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=255)


class HsActor(BaseModel):
    model_config = ConfigDict(extra="ignore")
    actorId: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=255)


class HsClient(BaseModel):
    model_config = ConfigDict(extra="ignore")
    clientType: str = "UNKNOWN"
    integrationAppId: int | None = None


class HsMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=64)
    direction: str = "OUTGOING"
    channelId: str | None = Field(default=None, max_length=32)
    text: str = Field(default="", max_length=200_000)
    senders: list[HsActor] = Field(default=[], max_length=20)
    attachments: list[HsAttachment] = Field(default=[], max_length=50)
    client: HsClient = HsClient()
    inReplyToId: str | None = Field(default=None, max_length=64)


class HsEvent(BaseModel):
    """One custom-channel webhook event (HubSpot posts one JSON object per request)."""

    model_config = ConfigDict(extra="ignore")
    type: str = Field(min_length=1, max_length=64)
    channelId: str | int | None = None
    channelIntegrationThreadIds: list[str] = Field(default=[], max_length=10)
    message: HsMessage | None = None


def event_of(raw: Any) -> HsEvent:
    """Validate a webhook body; ValueError naming the bad fields."""
    try:
        return HsEvent.model_validate(raw)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
        raise ValueError(f"invalid fields: {', '.join(fields)}") from None


def relayed(event: HsEvent, app_id: int, channel_id: str | None) -> bool:
    """True for an agent's message to deliver; False for other events, other channels, incoming
    messages and anything this app published itself (never echoed back)."""
    msg = event.message
    if event.type != OUTGOING or msg is None or msg.direction != "OUTGOING":
        return False
    if msg.client.clientType == "INTEGRATION" and msg.client.integrationAppId == app_id:
        return False
    channel = msg.channelId or (str(event.channelId) if event.channelId is not None else None)
    return channel_id is None or channel is None or channel == channel_id


def agent_message(event: HsEvent, instance: str, address: Address) -> Message:
    """An agent's reply as a Message to the conversation its thread id names; files stay in HubSpot."""
    msg = event.message
    assert msg is not None
    atts = tuple(
        Attachment(name=a.name or "file", mime=_guess(a.name), ref=MediaRef(instance, a.fileId))
        for a in msg.attachments
        if a.type == "FILE" and a.fileId
    )
    actor = msg.senders[0] if msg.senders else HsActor()
    return Message(
        kind=Kind.MEDIA if atts else Kind.TEXT,
        id=msg.id,
        origin=instance,
        conversation=address,
        sender=Party(id=actor.actorId or "agent", name=actor.name),
        text=RichText.of(msg.text),
        attachments=atts,
        ref=msg.inReplyToId,
    )


def _guess(name: str | None) -> str:
    return (mimetypes.guess_type(name)[0] if name else None) or "application/octet-stream"


def contact_search(sender: Party) -> dict[str, Any] | None:
    """The CRM search for an existing contact with the sender's e-mail or phone, or None without either."""
    groups = []
    if sender.email:
        groups.append({"filters": [{"propertyName": "email", "operator": "EQ", "value": sender.email}]})
    if sender.phone:
        for prop in ("phone", "mobilephone"):
            groups.append({"filters": [{"propertyName": prop, "operator": "EQ", "value": _phone(sender.phone)}]})
    return {"filterGroups": groups, "properties": ["email"], "limit": 1} if groups else None


def contact_create(sender: Party) -> dict[str, Any]:
    """A new contact from the sender's e-mail, phone and name."""
    first, _, last = (sender.name or "").partition(" ")
    props = {"email": sender.email, "phone": _phone(sender.phone) if sender.phone else None}
    props |= {"firstname": first or None, "lastname": last or None}
    return {"properties": {k: v for k, v in props.items() if v}}


def contact_id(answer: Answer) -> int | None:
    """The first contact id of a search or create answer."""
    data = answer.json()
    if isinstance(data, dict) and isinstance(data.get("results"), list) and data["results"]:
        data = data["results"][0]
    found = data.get("id") if isinstance(data, dict) else None
    return int(found) if isinstance(found, str | int) and str(found).isdigit() else None


def file_options(ttl: str | None) -> str:
    """The `options` part of a file upload: private to the portal, deleted after `ttl` when set."""
    options: dict[str, str] = {"access": "PRIVATE"}
    if ttl:
        options["ttl"] = ttl
    return codec.dumps(options).decode()
