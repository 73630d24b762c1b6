"""The `type = "email"` config model: the workspace's mailbox over IMAP (in) and SMTP (out)."""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from relay.mailconfig import MailboxConfig
from relay.secret import Secret

ATOM = r"^\$?[A-Za-z0-9_]{1,64}$"
Tls = Literal["implicit", "starttls", "none"]


def loopback(host: str) -> bool:
    """True for localhost and loopback addresses, the only hosts a mail server may be reached in clear."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class EmailConfig(MailboxConfig):
    """`type = "email"`: customers write to `address`; IMAP IDLE reads the mailbox, SMTP sends the answers.
    Delivered mail is marked in the mailbox itself (a keyword, or a move to `done_folder`)."""

    type: Literal["email"]
    username: str = Field(min_length=1, max_length=320)
    password: Secret
    imap_host: str = Field(min_length=1, max_length=253)
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_tls: Tls = "implicit"
    smtp_host: str = Field(min_length=1, max_length=253)
    smtp_port: int = Field(default=465, ge=1, le=65535)
    smtp_tls: Tls = "implicit"
    smtp_username: str | None = Field(default=None, max_length=320)
    smtp_password: Secret | None = None
    ca_file: Path | None = None
    mailbox: str = Field(default="INBOX", min_length=1, max_length=200)
    marker: Literal["auto", "keyword", "move"] = "auto"
    keyword: str = Field(default="$RelayDone", pattern=ATOM)
    done_folder: str = Field(default="Relayed", min_length=1, max_length=200, pattern=r"^[^\r\n\"*%]*$")
    idle_renew: float = Field(default=300.0, ge=5, le=1740)
    poll_interval: float = Field(default=60.0, ge=1, le=3600)
    timeout: float = Field(default=30.0, gt=0, le=300)
    max_mail_bytes: int = Field(default=25 << 20, ge=64 << 10, le=200 << 20)
    batch: int = Field(default=50, ge=1, le=1000)
    max_rate: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _clear_text_only_on_loopback(self) -> EmailConfig:
        for side in ("imap", "smtp"):
            host, tls = getattr(self, f"{side}_host"), getattr(self, f"{side}_tls")
            if tls == "none" and not loopback(host):
                raise ValueError(
                    f'{side}_tls = "none" would send the password in clear to {side}_host; '
                    'use "implicit" (ports 993/465) or "starttls" (ports 143/587)'
                )
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("set both smtp_username and smtp_password, or neither (then username/password are used)")
        return self


def tls_context(config: EmailConfig) -> ssl.SSLContext:
    """Certificate and host name checks always on; `ca_file` adds a private CA to trust."""
    return ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
