"""The ledger backends: later decisions win, a change is reported once, forget, prune, export, files 0600."""

from __future__ import annotations

import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from relay.consent import Event, How, Keyword, Keywords, Ledger, MemoryLedger, State, Subjects, normalise_address
from relay.consent_pg import PostgresLedger
from relay.consent_sqlite import SqliteLedger
from relay.errors import ConfigError
from tests.consent.conftest import PG_URL, pg_reachable

SUBJECTS = Subjects("test", [("k2", b"new-key-0123456789abcdef"), ("k1", b"old-key-0123456789abcdef")])


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def ledger(request: pytest.FixtureRequest, tmp_path: Path, pg_schema: str) -> AsyncIterator[Ledger]:
    found: Ledger
    if request.param == "memory":
        found = MemoryLedger(retention=1000)
    elif request.param == "sqlite":
        found = SqliteLedger(tmp_path / "data" / "consent.sqlite3", "test", retention=1000)
    else:
        if not await pg_reachable():
            pytest.skip("no PostgreSQL at " + PG_URL)
        found = PostgresLedger(PG_URL, "test", pg_schema, retention=1000)
    await found.open()
    yield found
    await found.close()


async def test_later_decisions_win_and_changes_are_reported_once(ledger: Ledger) -> None:
    subject = SUBJECTS.of("whatsapp", "+55 11 98765-4321")
    out = Event(subject[0], "k2", State.OPTED_OUT, 100.0, How.KEYWORD)
    assert await ledger.record(out) is True
    assert await ledger.record(out) is False
    assert await ledger.record(Event(subject[0], "k2", State.OPTED_IN, 90.0, How.CRM)) is False
    assert (await ledger.state(subject)) == out
    back = Event(subject[0], "k2", State.OPTED_IN, 110.0, How.CRM)
    assert await ledger.record(back) is True
    assert (await ledger.state(subject)) == back
    assert await ledger.state(SUBJECTS.of("whatsapp", "5511900000002")) is None
    rows = [(kind, e.state) async for kind, e in ledger.export()]
    assert rows == [("state", State.OPTED_IN), ("event", State.OPTED_OUT), ("event", State.OPTED_IN)]


async def test_an_older_key_row_still_counts_and_forget_removes_every_row(ledger: Ledger) -> None:
    new, old = SUBJECTS.of("sms", "+1 415 555 0100")
    await ledger.record(Event(old, "k1", State.OPTED_OUT, 50.0, How.ADMIN))
    found = await ledger.state([new, old])
    assert found is not None and found.state is State.OPTED_OUT and found.key_id == "k1"
    await ledger.record(Event(new, "k2", State.OPTED_OUT, 60.0, How.KEYWORD))
    assert await ledger.forget([new, old]) == 4
    assert await ledger.state([new, old]) is None
    assert [row async for row in ledger.export()] == []


async def test_prune_keeps_opt_outs_and_drops_old_history(ledger: Ledger) -> None:
    a, b = SUBJECTS.of("sms", "+1 415 555 0101")[0], SUBJECTS.of("sms", "+1 415 555 0102")[0]
    now = time.time()
    await ledger.record(Event(a, "k2", State.OPTED_OUT, now - 5000, How.KEYWORD))
    await ledger.record(Event(b, "k2", State.OPTED_OUT, now - 6000, How.KEYWORD))
    await ledger.record(Event(b, "k2", State.OPTED_IN, now - 4000, How.KEYWORD))
    assert await ledger.prune(now) == 4
    assert (await ledger.state([a])) is not None
    assert await ledger.state([b]) is None


async def test_sqlite_survives_a_restart_and_its_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "consent.sqlite3"
    first = SqliteLedger(path, "test")
    await first.open()
    subject = SUBJECTS.of("whatsapp", "5511987654321")
    await first.record(Event(subject[0], "k2", State.OPTED_OUT, 100.0, How.KEYWORD))
    await first.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = SqliteLedger(path, "test")
    await again.open()
    found = await again.state(subject)
    assert found is not None and found.state is State.OPTED_OUT
    await again.close()
    data = path.read_bytes()
    assert b"5511987654321" not in data and b"whatsapp" not in data


async def test_an_unwritable_place_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    ledger = SqliteLedger(blocker / "consent.sqlite3", "test")
    with pytest.raises(ConfigError) as err:
        await ledger.open()
    assert "consent.path: cannot open the consent ledger" in str(err.value) and "RELAY_DATA_DIR" in str(err.value)
    unreachable = PostgresLedger("postgresql://postgres@127.0.0.1:9/test", "test")
    with pytest.raises(ConfigError) as err:
        await unreachable.open()
    assert "consent.url: cannot reach" in str(err.value) and "127.0.0.1:9" not in str(err.value)
    assert "***" in repr(unreachable)


def test_keywords_are_whole_messages_after_trim_and_case_fold() -> None:
    words = Keywords.with_extra(opt_out=["ARRET", "Baja"], help=["Ayuda"])
    assert words.classify("  stop \n") is Keyword.OPT_OUT
    assert words.classify("Revoke") is Keyword.OPT_OUT
    assert words.classify("ARRÊT") is None and words.classify("arret") is Keyword.OPT_OUT
    assert words.classify("baja") is Keyword.OPT_OUT
    assert words.classify("UNSTOP") is Keyword.OPT_IN and words.classify("yes") is Keyword.OPT_IN
    assert words.classify("info") is Keyword.HELP and words.classify("AYUDA") is Keyword.HELP
    for ordinary in ("Stop texting me", "stop pls", "STOP!", "please stop", ""):
        assert words.classify(ordinary) is None


def test_one_subject_per_address_whatever_its_spelling() -> None:
    assert normalise_address("+49 (151) 234-56.78") == normalise_address("4915123456 78") == "49151234567" + "8"
    assert normalise_address(" U024BE7LH ") == "U024BE7LH"
    assert SUBJECTS.of("whatsapp", "+55 11 98765-4321") == SUBJECTS.of("whatsapp", "5511987654321")
    assert SUBJECTS.of("whatsapp", "5511987654321") != SUBJECTS.of("sms", "5511987654321")
    other = Subjects("other", [("k2", b"new-key-0123456789abcdef")])
    assert other.of("sms", "1")[0] != SUBJECTS.of("sms", "1")[0]
    assert all(len(s) == 40 and "5511987654321" not in s for s in SUBJECTS.of("whatsapp", "5511987654321"))
