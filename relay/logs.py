"""Structured, content-free logging; a redaction filter on every handler tames third-party loggers."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

_FIELDS = (
    "msg_id",
    "connector",
    "kind",
    "reason",
    "status",
    "latency_ms",
    "error",
    "route",
    "outcome",
    "count",
    "workspace",
)

_PATTERNS = (
    re.compile(r"(?<![0-9])\d{6,12}:[A-Za-z0-9_-]{30,}"),  # Telegram bot token
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{8,}"),  # Slack tokens
    re.compile(r"\bxapp-[A-Za-z0-9-]{8,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),  # JWTs
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),  # e-mail addresses
    re.compile(r"(?<![\w.])\+?\d[\d ()-]{6,}\d(?![\w.])"),  # phone numbers
)

# Loggers of libraries that print URLs with tokens or request bodies at INFO/DEBUG.
NOISY = (
    "httpx",
    "httpcore",
    "telegram",
    "telegram.ext",
    "slack_bolt",
    "slack_sdk",
    "msal",
    "urllib3",
    "aiohttp.access",
    "aiohttp.client",
    "aiohttp.server",
    "aiohttp.web",
    "asyncio",
    "redis",
    "imapclient",
    "imapclient.imaplib",
    "aiosmtplib",
    "mailparser_reply",
)


class Redactor(logging.Filter):
    """Scrubs tokens, e-mail addresses, phone numbers and configured secrets from every record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: set[str] = {s for s in secrets if len(s) >= 6}

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "***")
        for pattern in _PATTERNS:
            text = pattern.sub("***", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg = self.scrub(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.exc_info = None
            record.exc_text = None
            record.msg += f" [{type(exc).__name__}]"
        for name in _FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, self.scrub(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line with a fixed set of content-free fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                doc[name] = value
        return json.dumps(doc, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Human-readable lines with the same fields."""

    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{n}={getattr(record, n)}" for n in _FIELDS if getattr(record, n, None) is not None)
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        return f"{ts} {record.levelname:<7} {record.name}: {record.getMessage()} {extra}".rstrip()


class WorkspaceTag(logging.Filter):
    """Name the workspace on every line (a `relay host` child: one output, many workspaces)."""

    def __init__(self, workspace: str) -> None:
        super().__init__()
        self.workspace = workspace

    def filter(self, record: logging.LogRecord) -> bool:
        record.workspace = self.workspace
        return True


def setup_logging(
    level: str = "info",
    fmt: str = "text",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
    workspace: str | None = None,
) -> Redactor:
    """Install one handler on the root logger, with the redactor, and quiet the noisy libraries; `workspace`
    names the workspace on every line."""
    redactor = Redactor(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    if workspace is not None:
        handler.addFilter(WorkspaceTag(workspace))
    handler.addFilter(redactor)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    tame_loggers()
    return redactor


def redact_also(secrets: Iterable[str]) -> None:
    """Teach the redactor of the root logger's handlers secrets configured since start (e.g. in the console)."""
    for handler in logging.getLogger().handlers:
        for found in handler.filters:
            if isinstance(found, Redactor):
                found.secrets |= {s for s in secrets if len(s) >= 6}


def tame_loggers() -> None:
    """Raise noisy third-party loggers to WARNING: they print token-bearing URLs and bodies below it."""
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
