"""E-mail as a channel: customers write to a mailbox (IMAP IDLE), agents answer from the CRM (SMTP)."""

from typing import Any

from connectors.email.config import EmailConfig
from connectors.email.connector import MANIFEST, EmailConnector

EXAMPLE_CONFIG: dict[str, Any] = {
    "type": "email",
    "address": "support@example.com",
    "display_name": "Example Support",
    "username": "support@example.com",
    "password": "doc-mail-password-7f3a9c2e",
    "imap_host": "imap.example.com",
    "smtp_host": "smtp.example.com",
}

__all__ = ["EXAMPLE_CONFIG", "MANIFEST", "EmailConfig", "EmailConnector"]
