"""The [admin] section: sign-in methods, the role mapping, session timeouts and the audit log's place."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from relay.admin.principal import Role
from relay.secret import Secret

_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OidcSettings(_Strict):
    """An OpenID Connect provider: authorization code flow with PKCE."""

    issuer: str
    client_id: str = Field(min_length=1)
    client_secret: Secret | None = None
    scopes: list[str] = ["openid", "profile"]
    groups_claim: str = "groups"
    name_claim: str = "name"
    label: str = "company sign-in (OpenID Connect)"

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        if not _URL.match(value):
            raise ValueError("must be the provider's issuer URL, like https://login.example.com")
        return value.rstrip("/")

    @field_validator("scopes")
    @classmethod
    def _openid(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError('must include "openid"')
        return value


class SamlSettings(_Strict):
    """A SAML 2.0 identity provider, from its metadata file; assertions must be signed."""

    idp_metadata: Path
    entity_id: str | None = None
    groups_attribute: str = "groups"
    subject_attribute: str = "uid"
    name_attribute: str = "cn"
    label: str = "company sign-in (SAML)"

    def metadata_file(self, base: Path | None) -> Path:
        """The metadata file, a relative path taken from the config file's directory."""
        return self.idp_metadata if base is None or self.idp_metadata.is_absolute() else base / self.idp_metadata


class RoleMapping(_Strict):
    """Which identity-provider groups get which console role (the highest one found wins)."""

    owner: list[str] = []
    admin: list[str] = []
    viewer: list[str] = []

    def role_of(self, groups: list[str]) -> Role | None:
        """The highest role any of `groups` maps to, or None."""
        found = set(groups)
        for role, names in ((Role.OWNER, self.owner), (Role.ADMIN, self.admin), (Role.VIEWER, self.viewer)):
            if found.intersection(names):
                return role
        return None

    @property
    def empty(self) -> bool:
        return not (self.owner or self.admin or self.viewer)


def owner_problem(blob: str) -> str | None:
    """Why a local owner credential (made by `relay admin create-owner`) is unusable; None when it is fine."""
    try:
        doc = json.loads(blob)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or not {"name", "hash", "totp"} <= doc.keys():
        return "is not a credential made by `relay admin create-owner`; run it again and reference its secret"
    return None


class AdminSettings(_Strict):
    """The admin console at /admin; it is served only when at least one sign-in method is set."""

    session_idle: float = Field(default=1800.0, ge=60, le=86400)
    session_absolute: float = Field(default=43200.0, ge=300, le=7 * 86400)
    oidc: OidcSettings | None = None
    saml: SamlSettings | None = None
    roles: RoleMapping = RoleMapping()
    local_owner: Secret | None = None
    audit_log: Path | None = None

    @field_validator("local_owner")
    @classmethod
    def _owner(cls, value: Secret | None) -> Secret | None:
        if value is not None and (problem := owner_problem(value.reveal())):
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AdminSettings:
        if self.session_absolute < self.session_idle:
            raise ValueError("session_absolute must be at least session_idle")
        if (self.oidc or self.saml) and self.roles.empty:
            raise ValueError(
                'admin.roles must map at least one group to a role (e.g. owner = ["relay-owners"]), '
                "or nobody signing in through the identity provider gets in"
            )
        return self

    def file_problems(self, base: Path | None) -> list[str]:
        """Files the settings name that are missing, each with its key and the fix."""
        if self.saml is None or self.saml.metadata_file(base).is_file():
            return []
        found = self.saml.metadata_file(base)
        return [f"admin.saml.idp_metadata: no file at {found}: save the identity provider's metadata XML there"]

    @property
    def methods(self) -> list[str]:
        """The sign-in methods configured, in the order the sign-in page shows them."""
        found = [m for m, on in (("oidc", self.oidc), ("saml", self.saml)) if on is not None]
        return found + (["local"] if self.local_owner is not None else [])
