"""Sign-in through a SAML 2.0 identity provider, SP-initiated: signed assertions only, with audience,
recipient, time and InResponseTo checked by pysaml2; roles from a groups attribute."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string

from relay.admin.access import CONSOLE, SID, Console, csrf_exempt, form, public, set_cookie
from relay.admin.principal import Principal, Role
from relay.admin.settings import SamlSettings
from relay.admin.signin import anonymous, establish, refuse, too_many

PENDING_TTL = 600.0
DONE_TTL = 60.0


@dataclass(slots=True)
class ServiceProvider:
    """The relay as a SAML service provider, built once from the IdP's metadata file."""

    client: Saml2Client
    settings: SamlSettings

    @classmethod
    def build(cls, console: Console, settings: SamlSettings, base: Path | None) -> ServiceProvider:
        entity = settings.entity_id or f"{console.public_url}/admin/saml/metadata"
        conf = SPConfig()
        conf.load(
            {
                "entityid": entity,
                "metadata": {"local": [str(settings.metadata_file(base))]},
                "xmlsec_binary": shutil.which("xmlsec1"),
                "accepted_time_diff": 60,
                "allow_unknown_attributes": True,
                "service": {
                    "sp": {
                        "endpoints": {
                            "assertion_consumer_service": [(f"{console.public_url}/admin/saml/acs", BINDING_HTTP_POST)]
                        },
                        "want_assertions_signed": True,
                        "want_response_signed": False,
                        "allow_unsolicited": False,
                        "authn_requests_signed": False,
                    }
                },
            }
        )
        return cls(Saml2Client(config=conf), settings)

    def login_url(self, relay_state: str) -> tuple[str, str]:
        """(request id, the IdP URL to send the browser to)."""
        request_id, info = self.client.prepare_for_authenticate(binding=BINDING_HTTP_REDIRECT, relay_state=relay_state)
        return str(request_id), str(dict(info["headers"])["Location"])

    def attributes(self, response: str, request_id: str) -> dict[str, list[str]] | None:
        """The attributes of a valid signed assertion answering `request_id`; None for anything else."""
        try:
            parsed = self.client.parse_authn_request_response(response, BINDING_HTTP_POST, {request_id: "/admin/"})
        except Exception:
            return None
        if parsed is None or not parsed.assertion or parsed.assertion.signature is None:
            return None
        return {str(k): [str(v) for v in vals] for k, vals in parsed.get_identity().items()}


SP: web.AppKey[ServiceProvider] = web.AppKey("relay.admin.saml")


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def principal_of(settings: SamlSettings, roles: Any, ava: dict[str, list[str]]) -> Principal | None:
    """The principal for an assertion's attributes, or None when it names no subject or maps to no role."""
    subject = (ava.get(settings.subject_attribute) or [""])[0]
    role: Role | None = roles.role_of(ava.get(settings.groups_attribute) or [])
    if not subject or role is None:
        return None
    return Principal(subject, (ava.get(settings.name_attribute) or [subject])[0], role, "saml")


@public
async def start(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    if await too_many(request, "saml"):
        return await refuse(request, "saml", "throttled", "Too many attempts: wait a minute and try again.", 429)
    sid, _, fresh = await anonymous(request)
    relay_state = secrets.token_urlsafe(24)
    request_id, location = request.app[SP].login_url(relay_state)
    pending = json.dumps({"id": request_id, "sid": _digest(sid)})
    await console.store.set(f"admin:saml:pending:{_digest(relay_state)}", pending, PENDING_TTL)
    response = web.Response(status=302, headers={"Location": location})
    if fresh:
        set_cookie(response, console, sid)
    return response


@public
@csrf_exempt
async def acs(request: web.Request) -> web.Response:
    """The IdP posts here cross-site (no session cookie): check it, then finish in the browser's own session."""
    console = request.app[CONSOLE]
    posted = await form(request)
    response, relay_state = posted.get("SAMLResponse"), posted.get("RelayState")
    if not isinstance(response, str) or not isinstance(relay_state, str):
        return await refuse(request, "saml", "incomplete", "The identity provider's answer was incomplete.", 400)
    key = f"admin:saml:pending:{_digest(relay_state)}"
    pending = await console.store.get(key)
    await console.store.delete(key)
    if pending is None:
        return await refuse(request, "saml", "unsolicited", "That sign-in expired: start again.", 400)
    started = json.loads(pending)
    ava = await asyncio.to_thread(request.app[SP].attributes, response, started["id"])
    if ava is None:
        return await refuse(request, "saml", "assertion_invalid", "Sign-in failed.")
    who = principal_of(request.app[SP].settings, console.settings.roles, ava)
    if who is None:
        return await refuse(request, "saml", "no_role", "Your account has no role in this console.", 403)
    done = secrets.token_urlsafe(24)
    value = json.dumps({"sid": started["sid"], "p": [who.subject, who.name, int(who.role)]})
    await console.store.set(f"admin:saml:done:{_digest(done)}", value, DONE_TTL)
    return web.Response(status=303, headers={"Location": f"/admin/saml/finish?t={done}"})


@public
async def finish(request: web.Request) -> web.Response:
    """Back in the browser that started the sign-in (its cookie is sent on this top-level GET)."""
    console = request.app[CONSOLE]
    key = f"admin:saml:done:{_digest(request.query.get('t', ''))}"
    found = await console.store.get(key)
    await console.store.delete(key)
    sid = request.get(SID)
    doc = json.loads(found) if found else None
    if doc is None or sid is None or doc["sid"] != _digest(sid):
        return await refuse(request, "saml", "other_browser", "Start the sign-in again in this browser.", 400)
    subject, name, role = doc["p"]
    return await establish(request, Principal(subject, name, Role(role), "saml"))


@public
async def metadata(request: web.Request) -> web.Response:
    """This service provider's metadata, for the identity provider's administrator."""
    text = create_metadata_string(None, request.app[SP].client.config, 4, None, None, None, None, None)
    body = text.decode() if isinstance(text, bytes) else str(text)
    return web.Response(text=body, content_type="application/samlmetadata+xml")


def add_routes(app: web.Application, console: Console, settings: SamlSettings, base: Path | None) -> None:
    """The SAML sign-in steps and the SP metadata."""
    app[SP] = ServiceProvider.build(console, settings, base)
    app.router.add_get("/saml/start", start, allow_head=False)
    app.router.add_post("/saml/acs", acs)
    app.router.add_get("/saml/finish", finish, allow_head=False)
    app.router.add_get("/saml/metadata", metadata, allow_head=False)
