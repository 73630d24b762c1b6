"""Library adapter (aiosmtplib: submission with the configured TLS, and its exceptions read as Reasons)."""

from __future__ import annotations

import contextlib
import ssl
from email.message import EmailMessage

import aiosmtplib

from connectors.email.config import EmailConfig
from relay.errors import DeliveryError
from relay.reasons import Reason


def smtp_error(exc: BaseException, sent: bool) -> DeliveryError:
    """The Reason of an SMTP failure; `sent` says whether DATA had begun (then a lost reply is ambiguous).
    Only the server's status code is kept: its text may quote the address."""
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return DeliveryError(Reason.PLATFORM_AUTH_FAILED, scope="connector", detail=exc.code)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        code = codes[0] if codes else 550
        if code >= 500:
            return DeliveryError(Reason.INVALID_RECIPIENT, detail=code)
        return DeliveryError(Reason.PLATFORM_BUSY, detail=code, scope="connector")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        code = exc.code
        if code == 552:
            return DeliveryError(Reason.MESSAGE_TOO_LARGE, detail=code)
        if 400 <= code < 500:
            return DeliveryError(Reason.PLATFORM_BUSY, detail=code, scope="connector")
        return DeliveryError(Reason.PLATFORM_REJECTED, detail=code)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return DeliveryError(Reason.PLATFORM_MISCONFIGURED, scope="connector", detail="not_supported")
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return DeliveryError(Reason.PLATFORM_UNREACHABLE, scope="connector", detail="tls")
    if sent and isinstance(exc, TimeoutError):
        return DeliveryError(Reason.PLATFORM_TIMEOUT, retryable=False, scope="connector")
    if sent:
        return DeliveryError(Reason.PLATFORM_CONNECTION_LOST, retryable=False, scope="connector")
    return DeliveryError(Reason.PLATFORM_UNREACHABLE, scope="connector", detail=type(exc).__name__)


class Smtp:
    """SMTP submission with aiosmtplib: implicit TLS, required STARTTLS, or (on loopback only) none."""

    def __init__(self, config: EmailConfig, context: ssl.SSLContext) -> None:
        self.config = config
        self.context = context

    def client(self) -> aiosmtplib.SMTP:
        cfg = self.config
        return aiosmtplib.SMTP(
            hostname=cfg.smtp_host,
            port=cfg.smtp_port,
            use_tls=cfg.smtp_tls == "implicit",
            start_tls=cfg.smtp_tls == "starttls",
            tls_context=self.context,
            timeout=cfg.timeout,
        )

    async def login(self, smtp: aiosmtplib.SMTP) -> None:
        """Connect (TLS as configured) and authenticate."""
        cfg = self.config
        await smtp.connect()
        user = cfg.smtp_username or cfg.username
        secret = cfg.smtp_password or cfg.password
        await smtp.login(user, secret.reveal())

    async def send(self, message: EmailMessage, recipient: str) -> None:
        """Submit one mail; DeliveryError with a Reason when the server does not take it."""
        smtp = self.client()
        sent = False
        try:
            await self.login(smtp)
            sent = True
            await smtp.send_message(message, sender=self.config.address, recipients=[recipient])
        except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise smtp_error(exc, sent) from None
        finally:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                if smtp.is_connected:
                    await smtp.quit()
