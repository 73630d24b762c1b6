"""Twilio's webhooks: X-Twilio-Signature checked over the public URL and the form, then the SMS or the status."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from connectors.twilio_sms import convert
from relay.connector import HookRequest, Inbound
from relay.credential import header_credential, same
from relay.errors import AuthError, BadRequest

SIGNATURE = "X-Twilio-Signature"
SETTINGS = "X-Twilio-Webhooks-Signature-Settings"
Form = list[tuple[str, str]]
_MESSAGE_SID = re.compile(rf"^(?:SM|MM){convert.SID}$")


@dataclass(frozen=True, slots=True)
class Keys:
    """What Twilio signs with: the account's auth token (HMAC-SHA1), or a Webhooks Rule's shared key."""

    auth_token: bytes
    webhook_key: bytes | None = None


def form(body: bytes) -> Form:
    """The urlencoded form Twilio posts, as (name, value) pairs in order."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("body is not UTF-8 form data") from None
    return parse_qsl(text, keep_blank_values=True, max_num_fields=500)


def authenticate(keys: Keys, url: str, request: HookRequest) -> Form:
    """The form, once X-Twilio-Signature matches it over `url` (the relay's public URL for this route, never
    the address the request arrived on) with or without the default port; AuthError otherwise."""
    header = request.headers.get(SIGNATURE)
    if not header:
        raise AuthError(f"missing {SIGNATURE} header", 401)
    given = header_credential(header, f"{SIGNATURE} header")
    key, sha256 = keys.auth_token, False
    settings = request.headers.get(SETTINGS)
    if settings is not None:
        if "algorithm=HMAC_SHA256" not in settings.replace(" ", ""):
            raise AuthError(f"{SETTINGS}: only algorithm=HMAC_SHA256 is supported", 401)
        if keys.webhook_key is None:
            raise AuthError("signed with a Webhooks Rule's shared key; set webhook_key to verify it", 401)
        key, sha256 = keys.webhook_key, True
    try:
        params = form(request.body)
    except (BadRequest, ValueError):
        raise AuthError(f"{SIGNATURE} does not match", 403) from None
    query = list(request.query.items())
    full = f"{url}?{urlencode(query)}" if query else url
    for candidate in convert.signed_urls(full):
        if same(given, convert.signature(key, candidate, params, sha256).encode()):
            return params
    raise AuthError(f"{SIGNATURE} does not match (Twilio signs the relay's server.public_url + the hook path)", 403)


def _fields(params: Sequence[tuple[str, str]]) -> dict[str, str]:
    return {name: value for name, value in params}


def parse_message(instance: str, account: str, params: Form) -> Inbound:
    """A customer's SMS or MMS; 400 naming what is missing."""
    fields = _fields(params)
    if fields.get("AccountSid") != account:
        raise BadRequest("AccountSid is not this connector's account")
    if not _MESSAGE_SID.match(fields.get("MessageSid", "")) or not fields.get("From"):
        raise BadRequest("a message needs MessageSid and From")
    return Inbound.of(convert.inbound(instance, account, fields))


def parse_status(instance: str, account: str, params: Form) -> convert.Receipt | None:
    """A status callback for a message the relay sent, or None for an interim state."""
    fields = _fields(params)
    if fields.get("AccountSid") != account:
        raise BadRequest("AccountSid is not this connector's account")
    if not _MESSAGE_SID.match(fields.get("MessageSid", "")):
        raise BadRequest("a status callback needs MessageSid")
    return convert.receipt(instance, fields)
