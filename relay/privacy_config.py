"""The [consent] and [minimise] config tables (and a route's `minimise` override), validated."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from relay.consent import Keywords, fold
from relay.minimise import BUILTIN, Policy, Rule, custom
from relay.secret import Secret

Use = Literal["mask", "drop", "off"]
_MIME = re.compile(r"^[a-z0-9*][a-z0-9.+*-]*/[a-z0-9.+*-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ConsentConfig(_Strict):
    """Where the consent ledger lives, the keywords customers write and the replies they get."""

    backend: Literal["sqlite", "postgres", "memory"] = "sqlite"
    path: Path | None = None
    url: Secret | None = None
    db_schema: str = Field(default="relay", alias="schema")
    key: Secret | None = None
    retention_days: int = Field(default=1461, ge=30, le=36525)
    opt_out_words: list[str] = Field(default=[], max_length=50)
    opt_in_words: list[str] = Field(default=[], max_length=50)
    help_words: list[str] = Field(default=[], max_length=50)
    opt_out_reply: str = Field(
        default="You are unsubscribed and will get no more messages. Reply START to resubscribe.", max_length=1000
    )
    opt_in_reply: str = Field(default="You are subscribed again. Reply STOP to unsubscribe.", max_length=1000)
    help_reply: str = Field(default="", max_length=1000)

    @field_validator("opt_out_words", "opt_in_words", "help_words")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        for word in value:
            if not fold(word) or len(word) > 64:
                raise ValueError("each keyword is 1-64 characters (matched as the whole message, any case)")
        return value

    @field_validator("db_schema")
    @classmethod
    def _schema(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", value):
            raise ValueError('must be a lowercase PostgreSQL schema name (letters, digits, _), like "relay"')
        return value

    @field_validator("key")
    @classmethod
    def _key(cls, value: Secret | None) -> Secret | None:
        if value is not None and len(value.reveal()) < 16:
            raise ValueError("must be at least 16 characters; generate one with `openssl rand -base64 32`")
        return value

    @model_validator(mode="after")
    def _backend_settings(self) -> ConsentConfig:
        if self.backend == "postgres" and self.url is None:
            raise ValueError('backend "postgres" needs url = "postgresql://user@host/db" (or "${CONSENT_DB_URL}")')
        if self.backend != "postgres" and self.url is not None:
            raise ValueError('url is for backend = "postgres"; remove it or set backend = "postgres"')
        if self.backend != "sqlite" and self.path is not None:
            raise ValueError('path is for backend = "sqlite"; remove it or set backend = "sqlite"')
        both = {fold(w) for w in self.opt_in_words} & (Keywords.with_extra(self.opt_out_words).opt_out)
        if both:
            raise ValueError(f"{sorted(both)[0]!r} is both an opt-out and an opt-in word; keep it in one list")
        return self

    def keywords(self) -> Keywords:
        return Keywords.with_extra(self.opt_out_words, self.opt_in_words, self.help_words)


class CustomDetector(_Strict):
    """An admin's own pattern: its matches become `[name]` (mask) or disappear (drop)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    pattern: str = Field(min_length=1, max_length=500)
    action: Literal["mask", "drop"] = "mask"

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc.msg})") from None
        if compiled.match(""):
            raise ValueError("the pattern matches an empty string; make it match at least one character")
        return value

    @field_validator("name")
    @classmethod
    def _not_builtin(cls, value: str) -> str:
        if value in BUILTIN or value == "attachment":
            raise ValueError(f"'{value}' is a built-in detector; set `{value} = \"mask\"` instead or rename this one")
        return value


class MinimiseConfig(_Strict):
    """What is removed from messages before they reach a destination; cards are masked by default."""

    card: Use = "mask"
    iban: Use = "off"
    email: Use = "off"
    phone: Use = "off"
    us_ssn: Use = "off"
    uk_nino: Use = "off"
    es_dni: Use = "off"
    custom: list[CustomDetector] = Field(default=[], max_length=50)
    attachments_allow: list[str] = Field(default=[], max_length=100)
    attachments_deny: list[str] = Field(default=[], max_length=100)
    directions: list[Literal["inbound", "outbound"]] = Field(default=["inbound"], max_length=2)

    @field_validator("attachments_allow", "attachments_deny")
    @classmethod
    def _mime_patterns(cls, value: list[str]) -> list[str]:
        for item in value:
            if not _MIME.match(item.lower()):
                raise ValueError(f'\'{item}\' is not a MIME type pattern like "image/*" or "application/pdf"')
        return [v.lower() for v in value]

    @field_validator("custom")
    @classmethod
    def _unique(cls, value: list[CustomDetector]) -> list[CustomDetector]:
        names = [c.name for c in value]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"the custom detector name '{name}' is used twice; names must differ")
        return value

    def merged(self, override: MinimiseConfig | None) -> MinimiseConfig:
        """This policy with the keys a route sets itself replaced."""
        if override is None:
            return self
        return self.model_copy(update={k: getattr(override, k) for k in override.model_fields_set})

    def policy(self) -> Policy:
        rules = [Rule(d, use) for kind, d in BUILTIN.items() if (use := getattr(self, kind)) != "off"]
        rules += [Rule(custom(c.name, c.pattern), c.action) for c in self.custom]
        return Policy(
            tuple(rules),
            tuple(self.attachments_allow),
            tuple(self.attachments_deny),
            "inbound" in self.directions,
            "outbound" in self.directions,
        )
