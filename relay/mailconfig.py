"""What the config of every mail connector has: the workspace's address and how its answers read."""

from __future__ import annotations

from pydantic import Field

from relay.connector import ConnectorConfig
from relay.mailtext import LANGUAGES

ADDRESS = r"^[^@\s<>\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$"
ONE_LINE = r"^[^\r\n]*$"


class MailboxConfig(ConnectorConfig):
    """Customers write to `address`; answers come from it, as `display_name`, under `reply_subject` when
    the customer's mail had none; `languages` are those whose quoted-reply markers are cut."""

    address: str = Field(pattern=ADDRESS)
    display_name: str | None = Field(default=None, max_length=120, pattern=ONE_LINE)
    languages: list[str] = Field(default=list(LANGUAGES), min_length=1)
    reply_subject: str = Field(default="Re: your message", min_length=1, max_length=200, pattern=ONE_LINE)

    @property
    def domain(self) -> str:
        """The domain of the address: the right-hand side of the Message-IDs the relay makes."""
        return self.address.rsplit("@", 1)[1].lower()
