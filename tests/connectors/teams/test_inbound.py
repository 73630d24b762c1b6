"""Inbound: the Bot Framework JWT is checked before anything is forwarded; key rollover; redelivery."""

from __future__ import annotations

import asyncio
import time

import pytest

from connectors.teams.convert import chat_type
from tests.connectors.teams.conftest import Setup
from tests.connectors.teams.fakes import APP_ID, jwk, mint, payload


async def assert_refused(setup: Setup, status: int, token: str | None, **changes: object) -> None:
    activity = payload("personal_message", setup.service, **changes)
    resp = await setup.post(activity, token)
    assert resp.status == status, await resp.text()
    assert await setup.conversations() == []


async def test_valid_token_is_forwarded(setup: Setup) -> None:
    resp = await setup.post(payload("personal_message", setup.service))
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] == "delivered"
    assert len(await setup.conversations()) == 1


async def test_missing_token_is_401(setup: Setup) -> None:
    await assert_refused(setup, 401, None)
    await assert_refused(setup, 401, "not-a-jwt")
    assert setup.cloud.metadata_hits == 0


async def test_wrong_audience_is_401(setup: Setup) -> None:
    await assert_refused(setup, 401, mint(setup.service, aud="some-other-bot"))


async def test_empty_or_missing_audience_is_401(setup: Setup) -> None:
    await assert_refused(setup, 401, mint(setup.service, aud=""))
    await assert_refused(setup, 401, mint(setup.service, aud=None))


async def test_wrong_issuer_is_401(setup: Setup) -> None:
    await assert_refused(setup, 401, mint(setup.service, iss="https://sts.windows.net/evil/"))


async def test_expired_token_is_401_but_small_skew_is_tolerated(setup: Setup) -> None:
    now = int(time.time())
    await assert_refused(setup, 401, mint(setup.service, exp=now - 400, nbf=now - 4000))
    resp = await setup.post(payload("personal_message", setup.service), mint(setup.service, exp=now - 120))
    assert resp.status == 200


async def test_bad_signature_is_401(setup: Setup) -> None:
    forged = mint(setup.service, kid="key-1")
    head, claims, _ = forged.split(".")
    other = mint(setup.service, kid="key-1", aud="x").split(".")[2]
    await assert_refused(setup, 401, f"{head}.{claims}.{other}")


async def test_service_url_mismatch_is_403(setup: Setup) -> None:
    await assert_refused(setup, 403, mint("https://smba.trafficmanager.net/amer/"))
    await assert_refused(setup, 403, mint(setup.service, serviceurl=None))


async def test_missing_endorsement_is_403(setup: Setup) -> None:
    setup.cloud.keys = [jwk("key-1", endorsements=["webchat", "skype"])]
    await assert_refused(setup, 403, "mint")


async def test_channel_not_matching_endorsement_is_403(setup: Setup) -> None:
    await assert_refused(setup, 403, "mint", channelId="directline")


async def test_metadata_unavailable_asks_for_redelivery(setup: Setup) -> None:
    setup.cloud.metadata_down = True
    resp = await setup.post(payload("personal_message", setup.service))
    assert resp.status == 503 and resp.headers["Retry-After"] == "10"
    body = await resp.json()
    assert (body["status"], body["reason"], body["code"]) == ("retry", "token_unavailable", "signing_keys")
    assert await setup.conversations() == []


async def test_key_rollover_refreshes_once_and_storm_refreshes_once_per_window(setup: Setup) -> None:
    assert (await setup.post(payload("personal_message", setup.service))).status == 200
    assert (setup.cloud.metadata_hits, setup.cloud.jwks_hits) == (1, 1)

    setup.cloud.keys.append(jwk("key-2"))
    setup.now[0] += 301
    rolled = payload("personal_message", setup.service, id="rolled-1")
    resp = await setup.post(rolled, mint(setup.service, kid="key-2"))
    assert resp.status == 200, await resp.text()
    assert setup.cloud.jwks_hits == 2

    setup.now[0] += 301
    storm = [
        setup.post(payload("personal_message", setup.service, id=f"storm-{i}"), mint(setup.service, kid=f"rogue-{i}"))
        for i in range(25)
    ]
    statuses = [r.status for r in await asyncio.gather(*storm)]
    assert statuses == [401] * 25
    assert setup.cloud.jwks_hits == 3

    setup.now[0] += 60
    resp = await setup.post(payload("personal_message", setup.service, id="late"), mint(setup.service, kid="key-3"))
    assert resp.status == 401
    assert setup.cloud.jwks_hits == 3
    assert (await setup.post(payload("personal_message", setup.service, id="still-ok"))).status == 200
    assert setup.cloud.jwks_hits == 3


async def test_keys_are_refreshed_daily(setup: Setup) -> None:
    assert (await setup.post(payload("personal_message", setup.service))).status == 200
    setup.now[0] += 24 * 3600 + 1
    assert (await setup.post(payload("personal_message", setup.service, id="next-day"))).status == 200
    assert setup.cloud.jwks_hits == 2


async def test_redelivery_is_forwarded_once(setup: Setup) -> None:
    activity = payload("personal_message", setup.service)
    first, second = await asyncio.gather(setup.post(activity), setup.post(activity))
    assert (first.status, second.status) == (200, 200)
    third = await setup.post(activity)
    assert (await third.json())["status"] == "duplicate"
    convs = await setup.conversations()
    assert len(convs) == 1
    assert len((await setup.thread(convs[0]["conversation"]))["messages"]) == 1


async def test_conversation_update_is_ignored(setup: Setup) -> None:
    resp = await setup.post(payload("conversation_update", setup.service))
    assert resp.status == 200
    assert (await resp.json())["status"] == "ignored"
    assert await setup.conversations() == []


@pytest.mark.parametrize("path", ["/hooks/teams/messages", "/hooks/teams", "/hooks/teams/"])
async def test_every_route_checks_the_token(setup: Setup, path: str) -> None:
    resp = await setup.post(payload("personal_message", setup.service), None, path=path)
    assert resp.status == 401
    resp = await setup.post(payload("personal_message", setup.service), path=path)
    assert resp.status == 200


async def test_mentions_stripped_and_channel_thread_kept(setup: Setup) -> None:
    resp = await setup.post(payload("channel_message", setup.service))
    assert resp.status == 200
    convs = await setup.conversations()
    thread = await setup.thread(convs[0]["conversation"])
    assert thread["messages"][0]["html"] == "can someone check invoice 42?"
    address = setup.relay.sealer.open(convs[0]["conversation"])
    assert address.thread == "1736935000001" and chat_type(address) == "channel"
    assert address.chat.endswith(";messageid=1736935000001")
    assert APP_ID not in thread["messages"][0]["html"]
