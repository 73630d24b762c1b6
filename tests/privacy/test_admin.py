"""The admin console keeps no secret and nothing a visitor typed: the audit log, logs, files and the state
store hold key names and outcomes only."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Any

from relay.admin.principal import CSRF_HEADER, Role
from tests.privacy.common import hits, scan_files, scan_logs, secrets_of
from tests.support.admin_console import OWNER_PASSWORD, TOTP_SEED, ConsoleFactory, code_now, console_factory

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def test_console_keeps_no_typed_value_or_secret(
    aiohttp_client: Any, canary: str, relay_logs: io.StringIO, tmp_path: Path
) -> None:
    since = time.time()
    start_console: ConsoleFactory = console_factory(aiohttp_client, tmp_path)
    console = await start_console()
    needles = [*secrets_of(canary), OWNER_PASSWORD, TOTP_SEED]
    page = await (await console.client.get("/admin/login")).text()
    token = CSRF.search(page)
    assert token is not None
    for password in (canary, secrets_of(canary)[2], OWNER_PASSWORD):
        form = {"csrf_token": token.group(1), "password": password, "code": code_now()}
        await console.client.post("/admin/login/local", data=form, allow_redirects=False)
    sid, csrf = await console.session_for(Role.OWNER)
    console.client.session.cookie_jar.clear()
    console.client.session.cookie_jar.update_cookies({console.cookie: sid})
    await console.client.post(
        "/admin/allowlist", data={"type": [canary, "inbox", "webchat"]}, headers={CSRF_HEADER: csrf}
    )
    await console.client.get("/admin/audit.jsonl", params={"q": canary})
    audit = "\n".join(console.audit_lines())
    assert "signin.local" in audit and "allowlist.set" in audit
    assert hits(audit, needles) == []
    assert scan_logs(relay_logs.getvalue(), needles) == []
    assert scan_files(since, needles) == []
    stored = " ".join(f"{k} {v[0]}" for k, v in console.store._data.items())
    assert hits(stored, needles) == []
