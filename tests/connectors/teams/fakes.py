"""Local fakes of the Bot Framework: OpenID metadata + JWKS, the connector service, and an Entra token endpoint."""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress
import json
import ssl
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm

from tests.connectors.teams.fake_cards import activity_problem
from tests.support.fake_platform import FakePlatform

PAYLOADS = Path(__file__).parent / "payloads"
APP_ID = "5f0c2b7e-0000-4000-8000-00000000b07"
TENANT = "72f9aaaa-0000-4000-8000-000000000001"
ISSUER = "https://api.botframework.com"
SECRET = "test-app-secret-not-real"


def payload(name: str, service: str = "https://smba.trafficmanager.net/emea/", **changes: Any) -> dict[str, Any]:
    """A recorded-shape activity from payloads/ for a service URL, with top-level keys replaced."""
    text = (PAYLOADS / f"{name}.json").read_text().replace("SERVICE_URL/", service.rstrip("/") + "/")
    data: dict[str, Any] = json.loads(text)
    data.update(copy.deepcopy(changes))
    return data


@cache
def rsa_key(kid: str) -> rsa.RSAPrivateKey:
    """A test RSA key per kid (cached: key generation is the slow part)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(kid: str, endorsements: list[str] | None = None) -> dict[str, Any]:
    """The public JWK of a test key, with Bot Framework endorsements."""
    entry: dict[str, Any] = RSAAlgorithm.to_jwk(rsa_key(kid).public_key(), as_dict=True)
    entry.update(kid=kid, use="sig", endorsements=["msteams"] if endorsements is None else endorsements)
    return entry


def mint(service_url: str, kid: str = "key-1", **overrides: Any) -> str:
    """A Bot Framework channel token signed with a test key; `overrides` replace or (None) drop claims."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": APP_ID,
        "exp": now + 3600,
        "nbf": now - 10,
        "serviceurl": service_url,
    }
    for key, value in overrides.items():
        if value is None:
            claims.pop(key, None)
        else:
            claims[key] = value
    return jwt.encode(claims, rsa_key(kid), algorithm="RS256", headers={"kid": kid})


@dataclass
class Sent:
    """One request the fake connector service received."""

    method: str
    conversation: str
    reply_to: str | None
    body: dict[str, Any] | None
    auth: str
    status: int = 201


@dataclass
class BotFramework(FakePlatform):
    """OpenID metadata + JWKS and the Bot Connector service (the serviceUrl) in one plain-http app."""

    keys: list[dict[str, Any]] = field(default_factory=lambda: [jwk("key-1")])
    sent: list[Sent] = field(default_factory=list)
    failures: list[tuple[int, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    metadata_hits: int = 0
    jwks_hits: int = 0
    metadata_down: bool = False
    files: dict[str, bytes] = field(default_factory=dict)
    file_auth: list[str] = field(default_factory=list)
    chunked: bool = False
    base: str = ""

    def __post_init__(self) -> None:
        FakePlatform.__init__(self)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/.well-known/openidconfiguration", self.metadata)
        app.router.add_get("/v1/.well-known/keys", self.jwks)
        app.router.add_route("*", "/v3/conversations/{conv}/activities", self.activity)
        app.router.add_route("*", "/v3/conversations/{conv}/activities/{reply}", self.activity)
        app.router.add_get("/v3/attachments/{id}/views/original", self.attachment)
        app.router.add_get("/download/{id}", self.download)

    async def metadata(self, request: web.Request) -> web.Response:
        self.metadata_hits += 1
        if self.metadata_down:
            return web.json_response({}, status=500)
        return web.json_response(
            {
                "issuer": ISSUER,
                "jwks_uri": f"{self.base or request.url.origin()}/v1/.well-known/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def jwks(self, request: web.Request) -> web.Response:
        self.jwks_hits += 1
        return web.json_response({"keys": self.keys})

    def conversation_of(self, request: web.Request) -> str:
        raw = request.raw_path.split("/v3/conversations/", 1)[1].split("/activities", 1)[0]
        return unquote(raw)

    async def activity(self, request: web.Request) -> web.Response:
        body = await request.json() if request.body_exists else None
        reply = request.raw_path.split("/activities", 1)[1].lstrip("/") or None
        sent = Sent(
            request.method,
            self.conversation_of(request),
            unquote(reply) if reply else None,
            body,
            request.headers.get("Authorization", ""),
        )
        self.sent.append(sent)
        if self.failures:
            sent.status, headers, error = self.failures.pop(0)
            return web.json_response(error, status=sent.status, headers=headers)
        if request.method != "DELETE" and (problem := activity_problem(body)):
            sent.status = problem[0]
            return web.json_response(problem[1], status=sent.status)
        if request.method == "DELETE":
            return web.Response(status=200)
        return web.json_response({"id": f"act-{len(self.sent)}"}, status=201)

    @property
    def posted(self) -> list[Sent]:
        """Accepted requests (a failure answer does not count)."""
        return [s for s in self.sent if s.status < 300]

    async def attachment(self, request: web.Request) -> web.Response:
        self.file_auth.append(request.headers.get("Authorization", ""))
        if not request.headers.get("Authorization", "").startswith("Bearer fake-bot-token-"):
            return web.json_response({"error": {"code": "Unauthorized"}}, status=401)
        return web.Response(body=self.files[request.match_info["id"]], content_type="image/png")

    async def download(self, request: web.Request) -> web.StreamResponse:
        self.file_auth.append(request.headers.get("Authorization", ""))
        if not self.chunked:
            return web.Response(body=self.files[request.match_info["id"]], content_type="application/pdf")
        resp = web.StreamResponse(headers={"Content-Type": "application/pdf"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        data = self.files[request.match_info["id"]]
        for i in range(0, len(data), 512):
            await resp.write(data[i : i + 512])
        await resp.write_eof()
        return resp


def tls_material(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A self-signed certificate for 127.0.0.1: a server SSL context and the CA file that trusts it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay-test-authority")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (directory / "cert.pem").write_bytes(cert_pem)
    (directory / "key.pem").write_bytes(key_pem)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return ctx, directory / "cert.pem"


@dataclass
class Entra:
    """The tenant's OpenID configuration and token endpoint, as msal sees them (served over TLS)."""

    token_requests: int = 0
    refuse: bool = False
    forms: list[dict[str, str]] = field(default_factory=list)
    base: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(f"/{TENANT}/v2.0/.well-known/openid-configuration", self.discovery)
        app.router.add_post(f"/{TENANT}/oauth2/v2.0/token", self.token)
        return app

    async def discovery(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": f"{self.base}/{TENANT}/v2.0",
                "authorization_endpoint": f"{self.base}/{TENANT}/oauth2/v2.0/authorize",
                "token_endpoint": f"{self.base}/{TENANT}/oauth2/v2.0/token",
            }
        )

    async def token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = dict(await request.post())
        self.forms.append({k: str(v) for k, v in form.items()})
        if self.refuse:
            return web.json_response({"error": "invalid_client", "error_description": "AADSTS7000215"}, status=401)
        return web.json_response(
            {"token_type": "Bearer", "expires_in": 3599, "access_token": f"fake-bot-token-{self.token_requests}"}
        )
