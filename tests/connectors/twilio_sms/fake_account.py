"""The fake Twilio account: its SID, auth token, number and API root, new resource SIDs, message-log entries."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

ACCOUNT = "AC" + "a1" * 16
TOKEN = "fake-twilio-auth-token-0123456789"
NUMBER = "+15550001111"
API = f"/2010-04-01/Accounts/{ACCOUNT}"


def new_sid(prefix: str) -> str:
    """A new resource SID: the two-letter prefix and 32 hex digits."""
    return prefix + secrets.token_hex(16)


@dataclass
class Logged:
    """One entry of Twilio's message log."""

    sid: str
    sender: str
    to: str
    body: str
    direction: str
    status: str
    at: float
    media: list[tuple[str, bytes, str]] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "account_sid": ACCOUNT,
            "from": self.sender,
            "to": self.to,
            "body": self.body,
            "num_media": str(len(self.media)),
            "num_segments": "1",
            "direction": self.direction,
            "status": self.status,
            "date_sent": format_datetime(datetime.fromtimestamp(self.at, UTC), usegmt=True),
            "uri": f"{API}/Messages/{self.sid}.json",
            "subresource_uris": {"media": f"{API}/Messages/{self.sid}/Media.json"},
        }
