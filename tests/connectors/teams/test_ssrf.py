"""A signed activity cannot make the relay fetch from private addresses, hosts outside the Teams file hosts, or
through a redirect to either; and only the configured Bot Framework channels are accepted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from pydantic import ValidationError

from connectors.teams import EXAMPLE_CONFIG, TeamsConfig
from connectors.teams.config import file_url_allowed
from tests.conftest import RelayFactory, workspace
from tests.connectors.teams.conftest import INBOX_KEY, LOCAL_FAKES, Setup, teams_config
from tests.connectors.teams.fakes import BotFramework, Entra, jwk, payload
from tests.security.test_netguard import Listener

# Hosts the admin lists for these tests, so that the address guard (not the host policy) is what refuses.
FILE_HOSTS = ["127.0.0.1", "127.0.0.2", "localhost", "169.254.169.254", "fd00:ec2::254"]


@pytest.fixture
async def listeners() -> AsyncIterator[dict[str, Listener]]:
    found = {"127.0.0.1": await Listener().start("127.0.0.1"), "127.0.0.2": await Listener().start("127.0.0.2")}
    yield found
    for one in found.values():
        one.close()


async def start(
    start_relay: RelayFactory, cloud: BotFramework, entra: Entra, teams: dict[str, Any] | None = None, **extra: Any
) -> Setup:
    teams = teams_config(cloud, entra, **({"file_host_allowlist": FILE_HOSTS} | (teams or {})))
    raw = workspace(
        {"teams": teams, "inbox": {"type": "inbox", "access_key": INBOX_KEY}},
        [{"from": ["teams"], "to": "inbox"}],
        **extra,
    )
    client, relay = await start_relay(raw)
    return Setup(client, relay, cloud, entra)


async def fetch_file(setup: Setup, download_url: str) -> tuple[int, str]:
    """Send a file message whose downloadUrl is `download_url`, then fetch it through its relay media link."""
    activity = payload("file_message", setup.service)
    activity["attachments"][0]["content"]["downloadUrl"] = download_url
    resp = await setup.post(activity)
    assert resp.status == 200, await resp.text()
    ref = (await setup.conversations())[0]["conversation"]
    link = (await setup.thread(ref))["messages"][0]["attachments"][0]["url"]
    got = await setup.client.get("/media/" + link.split("/media/", 1)[1])
    return got.status, await got.text()


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:{port}/file.pdf",
        "http://127.0.0.1:{port}/file.pdf",
        "https://localhost:{port}/file.pdf",
        "https://169.254.169.254/metadata/instance?api-version=2021-02-01",
        "https://[fd00:ec2::254]/latest/meta-data/",
    ],
)
async def test_download_url_on_a_private_address_is_never_fetched(
    start_relay: RelayFactory, cloud: BotFramework, entra: Entra, listeners: dict[str, Listener], url: str
) -> None:
    setup = await start(start_relay, cloud, entra)
    status, reason = await fetch_file(setup, url.format(port=listeners["127.0.0.1"].port))
    assert status == 502 and "refused" in reason, reason
    assert listeners["127.0.0.1"].connections == 0


async def test_download_url_outside_the_file_hosts_is_refused(
    start_relay: RelayFactory, cloud: BotFramework, entra: Entra
) -> None:
    setup = await start(start_relay, cloud, entra, {"file_host_allowlist": []}, network=LOCAL_FAKES)
    cloud.files = {"invoice": b"%PDF-1.4 invoice"}
    status, reason = await fetch_file(setup, f"{cloud.base}/download/invoice")
    assert status == 502 and "SharePoint" in reason, reason
    assert cloud.file_auth == []


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("https://127.0.0.2:{port}/internal", "file host refused"),
        ("https://169.254.169.254/latest/meta-data/", "file host refused"),
        ("http://127.0.0.2:{port}/internal", "outside the Teams file hosts"),
    ],
)
async def test_redirect_from_an_allowed_host_to_a_private_address_is_refused(
    start_relay: RelayFactory,
    cloud: BotFramework,
    entra: Entra,
    listeners: dict[str, Listener],
    aiohttp_server: Any,
    target: str,
    why: str,
) -> None:
    async def bounce(request: web.Request) -> web.Response:
        raise web.HTTPFound(target.format(port=listeners["127.0.0.2"].port))

    app = web.Application()
    app.router.add_get("/file.pdf", bounce)
    server = await aiohttp_server(app)
    setup = await start(start_relay, cloud, entra, network=LOCAL_FAKES)
    status, reason = await fetch_file(setup, f"http://127.0.0.1:{server.port}/file.pdf")
    assert status == 502 and why in reason, reason
    assert listeners["127.0.0.2"].connections == 0


async def test_redirect_to_a_host_outside_the_file_hosts_is_not_followed(
    start_relay: RelayFactory, cloud: BotFramework, entra: Entra, aiohttp_server: Any
) -> None:
    async def bounce(request: web.Request) -> web.Response:
        raise web.HTTPFound("https://internal.example.invalid/secret")

    app = web.Application()
    app.router.add_get("/file.pdf", bounce)
    server = await aiohttp_server(app)
    setup = await start(start_relay, cloud, entra, network=LOCAL_FAKES)
    status, reason = await fetch_file(setup, f"http://127.0.0.1:{server.port}/file.pdf")
    assert status == 502 and "outside the Teams file hosts" in reason, reason


async def test_replies_never_go_to_a_service_url_on_a_private_address(
    start_relay: RelayFactory, cloud: BotFramework, entra: Entra
) -> None:
    setup = await start(start_relay, cloud, entra)
    assert (await setup.post(payload("personal_message", setup.service))).status == 200
    ref = (await setup.conversations())[0]["conversation"]
    body = await (await setup.reply(ref, "hello")).json()
    assert (body["status"], body["reason"]) == ("failed", "service_url_refused")
    assert cloud.sent == []


def test_file_host_policy() -> None:
    assert file_url_allowed("https://contoso-my.sharepoint.com/personal/jane/_layouts/15/download.aspx?x=1", ())
    assert file_url_allowed("https://contoso.sharepoint.com/sites/x/y.pdf", ())
    assert file_url_allowed("https://contoso.sharepoint.cn/sites/x/y.pdf", ())
    assert not file_url_allowed("http://contoso.sharepoint.com/y.pdf", ())
    assert not file_url_allowed("https://contoso.sharepoint.com.evil.example/y.pdf", ())
    assert not file_url_allowed("https://smba.trafficmanager.net/emea/v3/attachments/x", ())
    assert not file_url_allowed("https://127.0.0.1/y.pdf", ())
    assert not file_url_allowed("https://169.254.169.254/", ())
    assert file_url_allowed("https://files.example.org/y.pdf", ("files.example.org",))
    assert not file_url_allowed("http://10.0.0.1/y.pdf", ("10.0.0.1",))


async def test_a_channel_other_than_msteams_is_refused(
    start_relay: RelayFactory, cloud: BotFramework, entra: Entra
) -> None:
    cloud.keys = [jwk("key-1", endorsements=["msteams", "directline", "webchat"])]
    setup = await start(start_relay, cloud, entra)
    for channel in ("directline", "webchat", "", None):
        resp = await setup.post(payload("personal_message", setup.service, channelId=channel))
        assert resp.status == 403 and "channelId" in (await resp.json())["error"]
    assert await setup.conversations() == []
    assert (await setup.post(payload("personal_message", setup.service))).status == 200


async def test_configured_channels_are_accepted(start_relay: RelayFactory, cloud: BotFramework, entra: Entra) -> None:
    cloud.keys = [jwk("key-1", endorsements=["msteams", "directline"])]
    setup = await start(start_relay, cloud, entra, {"channels": ["msteams", "directline"]})
    assert (await setup.post(payload("personal_message", setup.service, channelId="directline"))).status == 200
    resp = await setup.post(payload("personal_message", setup.service, channelId="webchat"))
    assert resp.status == 403


@pytest.mark.parametrize("channels", [[], [""], ["  "]])
def test_channels_must_name_channels(channels: list[str]) -> None:
    with pytest.raises(ValidationError):
        TeamsConfig.model_validate(EXAMPLE_CONFIG | {"channels": channels})
