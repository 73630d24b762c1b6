"""The `type = "graphmail"` config model: a Microsoft 365 mailbox through Microsoft Graph, app-only."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from relay.mailconfig import MailboxConfig
from relay.secret import Secret
from relay.strength import Strong

GRAPH = "https://graph.microsoft.com/v1.0"
AUTHORITY = "https://login.microsoftonline.com"


class GraphMailConfig(MailboxConfig):
    """`type = "graphmail"`: customers write to `address` (an Exchange Online mailbox); change notifications
    wake the relay, the mailbox is swept for unrelayed mail (moved to `done_folder` once the CRM accepted)
    and answers are sent as MIME through sendMail."""

    type: Literal["graphmail"]
    tenant_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9.-]+$")
    client_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9-]+$")
    client_secret: Secret
    client_state: Strong
    graph_url: str = Field(default=GRAPH, pattern=r"^https://[^\s?#]+$")
    authority: str = Field(default=AUTHORITY, pattern=r"^https://[^\s?#]+$")
    scope: str = Field(default="https://graph.microsoft.com/.default", max_length=200)
    done_folder: str = Field(default="Relayed", min_length=1, max_length=200, pattern=r"^[^\r\n']*$")
    subscription_minutes: int = Field(default=4230, ge=45, le=10080)
    renew_before_minutes: int = Field(default=60, ge=5, le=1440)
    sweep_interval: float = Field(default=60.0, ge=1, le=3600)
    timeout: float = Field(default=30.0, gt=0, le=300)
    max_mail_bytes: int = Field(default=25 << 20, ge=64 << 10, le=150 << 20)
    batch: int = Field(default=25, ge=1, le=100)
    concurrency: int = Field(default=4, ge=1, le=4)
    notifications: Literal["webhook", "poll"] = "webhook"

    @field_validator("client_state")
    @classmethod
    def _graph_limit(cls, value: Secret) -> Secret:
        if len(value.reveal()) > 128:
            raise ValueError("Graph takes a clientState of at most 128 characters; make a shorter random one")
        return value

    @property
    def base(self) -> str:
        """The Graph URL of the mailbox."""
        return f"{self.graph_url.rstrip('/')}/users/{self.address}"
