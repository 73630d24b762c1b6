"""Fixtures for the admin console tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.admin_console import ConsoleFactory, console_factory


@pytest.fixture
def start_console(aiohttp_client: Any, tmp_path: Path) -> ConsoleFactory:
    """Start a relay with the console (default: the break-glass owner) with its files in tmp_path."""
    return console_factory(aiohttp_client, tmp_path)
