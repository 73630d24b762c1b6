"""The SMS outage fault at full size: the CRM down for five real minutes while the local Twilio sends texts."""

from __future__ import annotations

import pytest

from bench.reliability.faults import FULL, Row, sms_crm_outage

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


async def test_a_real_five_minute_crm_outage_loses_no_sms_and_delivers_each_once() -> None:
    row: Row = await sms_crm_outage(FULL)
    assert FULL.outage == 300.0
    assert row.sent == FULL.messages
    assert row.lost == 0, row
    assert row.once == row.sent, row
    assert row.dup_after_event_id == 0, row
