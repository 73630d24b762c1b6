"""Fixtures for the at-rest proofs: DEBUG logs captured through the relay's own handler; the counters."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from relay.logs import setup_logging
from tests.privacy.common import dump_stats


@pytest.fixture(scope="session", autouse=True)
def _stats() -> Iterator[None]:
    yield
    dump_stats()


@pytest.fixture
def relay_logs() -> Iterator[io.StringIO]:
    """Every log record at DEBUG, through the relay's handler and redactor."""
    stream = io.StringIO()
    setup_logging("debug", "json", stream=stream)
    yield stream
    logging.getLogger().handlers.clear()
    logging.getLogger().setLevel(logging.WARNING)
