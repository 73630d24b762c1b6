"""`relay check` against the SunCo fake: the API key, the webhook's trigger, version and secret, scoped keys."""

from __future__ import annotations

from tests.connectors.zendesk.conftest import StartZd


async def test_relay_check_verifies_the_key_and_the_webhook_trigger_version_and_secret(start_zd: StartZd) -> None:
    zd = await start_zd(hook=False)
    rows = await zd.conn.check()
    assert [(r.what, r.ok) for r in rows] == [
        (f"API key {zd.conn.config.key_id} on app {zd.conn.config.app_id}", True),
        ("integration webhook", False),
    ]
    hook = zd.fake.add_webhook(zd.conn.ctx.hook_url() + "/", triggers=("conversation:message", "conversation:read"))
    rows = await zd.conn.check()
    assert len(rows) == 5 and all(r.ok for r in rows), rows
    hook["secret"], hook["triggers"], hook["version"] = "another-secret", ["conversation:read"], "v1.1"
    failed = {r.what for r in await zd.conn.check() if r.ok is False}
    assert failed == {
        "webhook trigger conversation:message",
        "webhook payload version v2",
        "webhook secret equals webhook_secret",
    }
    assert all("another-secret" not in r.detail and "8564b3e6" not in r.detail for r in await zd.conn.check())


async def test_relay_check_reports_refused_credentials(start_zd: StartZd) -> None:
    zd = await start_zd(key_secret="a-wrong-secret-0123456789")
    rows = await zd.conn.check()
    assert len(rows) == 1 and rows[0].ok is False and rows[0].detail == "HTTP 401 unauthorized"
    named = await start_zd(integration_id="nope")
    rows = await named.conn.check()
    assert len(rows) == 1 and rows[0].ok is False and rows[0].detail == "HTTP 404 not_found"


async def test_relay_check_with_an_integration_key_reads_its_own_webhook(start_zd: StartZd) -> None:
    zd = await start_zd(hook=False)
    hook = zd.fake.add_webhook(zd.conn.ctx.hook_url())
    key_id, secret = zd.fake.integration_key(hook)
    scoped = await start_zd(hook=False, key_id=key_id, key_secret=secret)
    rows = await scoped.conn.check()
    assert len(rows) == 5 and all(r.ok for r in rows), rows
    assert zd.fake.requests("/v2/apps/*/integrations/me/webhooks")
    customer = await scoped.customer()
    assert (await scoped.say(customer, "m1", "posted with the integration's key"))[1]["status"] == "delivered"
