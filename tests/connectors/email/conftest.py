"""Fixtures: the real mail servers (Dovecot and the SMTP server), skipped only where they are not installed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.peers.mail import MailPeer, missing


@pytest.fixture
def mail_peer() -> Iterator[MailPeer]:
    """Dovecot and the SMTP server for one test, with empty mailboxes; stopped afterwards."""
    need = missing()
    if need:
        pytest.skip(f"mail peer needs Debian packages {' '.join(need)} (python -m tests.peers.mail install)")
    peer = MailPeer().start()
    try:
        yield peer
    finally:
        peer.stop()
