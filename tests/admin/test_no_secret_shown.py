"""A canary secret posted through the forms is never in a page, a log line, the audit log or the config file
(only, encrypted, in the secrets file)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from relay.logs import Redactor
from tests.admin.conftest import StartWorkspace

CANARY = "Canary-7f3a9c2e41d8b6a0-ZqWx"


async def test_a_posted_secret_never_comes_back(
    start_workspace: StartWorkspace, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ws = await start_workspace()
    pages = []
    bad = await ws.post("/admin/connectors/new/webhook", name="crm2", url="ftp://nowhere", secret=CANARY)
    assert bad.status == 422
    pages.append(await bad.text())
    good = await ws.post("/admin/connectors/new/webhook", name="crm2", url="http://127.0.0.1:9/crm", secret=CANARY)
    assert good.status == 303, await good.text()
    assert ws.console.relay.connectors["crm2"].config.secret.reveal() == CANARY
    edit = await ws.get("/admin/connectors/crm2")
    page = await edit.text()
    assert 'id="f-secret"' in page and "(set)" in page
    pages.append(page)
    saved = await ws.post("/admin/connectors/crm2", url="http://127.0.0.1:9/crm", secret="", timeout="2")
    assert saved.status == 303
    assert ws.console.relay.connectors["crm2"].config.secret.reveal() == CANARY
    for path in ("/admin/connectors", "/admin/routes", "/admin/config", "/admin/connectors/crm2"):
        for role in ("admin", "viewer"):
            pages.append(await (await ws.get(path, role=role)).text())
    pages.append(await (await ws.client.get("/metrics")).text())
    pages.append(await (await ws.client.get("/readyz")).text())
    for text in pages:
        assert CANARY not in text
    assert CANARY not in caplog.text
    assert CANARY not in json.dumps(ws.audit.recorded)
    for name in ("relay.toml", "relay.toml.prev"):
        text = (ws.path.parent / name).read_text()
        assert CANARY not in text and "${CRM2_SECRET}" in (ws.path.parent / "relay.toml").read_text()
    for secrets_file in ws.path.parent.glob("relay-secrets.json*"):
        assert CANARY.encode() not in secrets_file.read_bytes()


async def test_secrets_added_in_the_console_are_redacted_from_logs(start_workspace: StartWorkspace) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(Redactor())
    logging.getLogger().addHandler(handler)
    try:
        ws = await start_workspace()
        form = {"name": "crm2", "url": "http://127.0.0.1:9/crm", "secret": CANARY}
        assert (await ws.post("/admin/connectors/new/webhook", **form)).status == 303
        logging.getLogger("relay.test").warning("a library echoed %s", CANARY)
    finally:
        logging.getLogger().removeHandler(handler)
    assert "a library echoed ***" in stream.getvalue() and CANARY not in stream.getvalue()
