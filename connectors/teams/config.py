"""The `type = "teams"` config model and the host policies for service URLs and file downloads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from relay.connector import ConnectorConfig
from relay.media import host_allowed
from relay.secret import Secret

DEFAULT_OPENID = "https://login.botframework.com/v1/.well-known/openidconfiguration"
DEFAULT_SCOPE = "https://api.botframework.com/.default"
DEFAULT_ISSUER = "https://api.botframework.com"

SERVICE_HOSTS = (
    "smba.trafficmanager.net",
    "*.botframework.com",
    "*.teams.microsoft.com",
    "*.teams.microsoft.us",
    "*.botframework.us",
    "*.botframework.azure.us",
    "*.botframework.azure.cn",
)
# Where Teams puts files users send a bot (their OneDrive for Business, i.e. SharePoint Online): the
# "SharePoint Online and OneDrive for Business" rows of Microsoft's "Office 365 URLs and IP address
# ranges" (<tenant>.sharepoint.com, <tenant>-my.sharepoint.com, <tenant>-files/-myfiles.sharepoint.com),
# and *.sharepoint.cn for Office 365 operated by 21Vianet. Others: file_host_allowlist.
FILE_HOSTS = ("*.sharepoint.com", "*.sharepoint.cn")
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def is_loopback(url: str) -> bool:
    """True if the URL's host is the local machine."""
    return (urlsplit(url).hostname or "").lower() in LOOPBACK


def service_url_allowed(url: str, extra: Sequence[str]) -> bool:
    """Whether the bot token may go to this service URL: https on a Bot Framework/Teams host or an
    allowlisted host; plain http only for allowlisted loopback hosts (local tests)."""
    scheme = urlsplit(url).scheme
    if scheme == "https":
        return host_allowed(url, SERVICE_HOSTS) or host_allowed(url, extra)
    return scheme == "http" and is_loopback(url) and host_allowed(url, extra)


def file_url_allowed(url: str, extra: Sequence[str]) -> bool:
    """Whether a file's downloadUrl may be fetched: https on a SharePoint/OneDrive host or an allowlisted host;
    plain http only for allowlisted loopback hosts (local tests)."""
    scheme = urlsplit(url).scheme
    if scheme == "https":
        return host_allowed(url, FILE_HOSTS) or host_allowed(url, extra)
    return scheme == "http" and is_loopback(url) and host_allowed(url, extra)


def https_or_loopback(value: str) -> str:
    scheme = urlsplit(value).scheme
    if scheme != "https" and not (scheme == "http" and is_loopback(value)):
        raise ValueError("must be an https:// URL (http:// only for 127.0.0.1/localhost)")
    return value


class CertificateCredential(BaseModel):
    """A certificate registered on the app: its PEM private key and SHA-1 thumbprint (hex)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    private_key_pem: Secret
    thumbprint: str = Field(pattern=r"^[0-9A-Fa-f]{40}$")


class TeamsConfig(ConnectorConfig):
    """`type = "teams"`: the bot's Entra app, where its tokens come from, and what inbound tokens must say."""

    type: Literal["teams"]
    app_id: str = Field(min_length=1, max_length=128)
    app_secret: Secret | None = None
    certificate: CertificateCredential | None = None
    tenant_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")
    openid_metadata_url: str = DEFAULT_OPENID
    authority: str | None = None
    token_scope: str = Field(default=DEFAULT_SCOPE, min_length=1)
    issuer: str = Field(default=DEFAULT_ISSUER, min_length=1)
    service_url_allowlist: tuple[str, ...] = ()
    file_host_allowlist: tuple[str, ...] = ()
    channels: tuple[str, ...] = Field(default=("msteams",), min_length=1)
    ack_deadline: float = Field(default=12.0, gt=0, le=14)

    @field_validator("app_id")
    @classmethod
    def _app_id(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must be the bot's Microsoft App ID; an empty app id never disables authentication")
        return value.strip()

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not c.strip() for c in value):
            raise ValueError('must list Bot Framework channel ids, like ["msteams"]; an empty id matches nothing')
        return value

    @field_validator("openid_metadata_url")
    @classmethod
    def _metadata(cls, value: str) -> str:
        return https_or_loopback(value)

    @field_validator("authority")
    @classmethod
    def _authority(cls, value: str | None) -> str | None:
        if value is not None and (urlsplit(value).scheme != "https" or len(urlsplit(value).path.strip("/")) == 0):
            raise ValueError("must be https://<host>/<tenant> (msal accepts only https authorities)")
        return value

    @model_validator(mode="after")
    def _one_credential(self) -> TeamsConfig:
        if (self.app_secret is None) == (self.certificate is None):
            raise ValueError("set exactly one of app_secret or certificate")
        if self.app_secret is not None and not self.app_secret.reveal():
            raise ValueError("app_secret is empty")
        return self

    @property
    def authority_url(self) -> str:
        """The msal authority: the configured one, or the tenant on login.microsoftonline.com."""
        return self.authority or f"https://login.microsoftonline.com/{self.tenant_id}"

    def client_credential(self) -> str | dict[str, Any]:
        """What msal takes as client_credential: the secret, or the certificate dict."""
        if self.certificate is not None:
            return {"private_key": self.certificate.private_key_pem.reveal(), "thumbprint": self.certificate.thumbprint}
        assert self.app_secret is not None
        return self.app_secret.reveal()
