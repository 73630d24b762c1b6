"""The break-glass owner signs in with password and TOTP; sessions rotate, time out and end; all audited."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pyotp
import pytest

from relay import cli
from relay.secret import load_secrets
from tests.conftest import sandbox_workspace
from tests.support.admin_console import OWNER_PASSWORD, TOTP_SEED, ConsoleFactory, code_now

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def sign_in(console: Any, password: str = OWNER_PASSWORD, code: str | None = None) -> Any:
    page = await console.client.get("/admin/login")
    token = CSRF.search(await page.text())
    assert token is not None
    form = {"csrf_token": token.group(1), "password": password, "code": code or code_now()}
    return await console.client.post("/admin/login/local", data=form, allow_redirects=False)


async def test_owner_signs_in_with_password_and_code_and_the_session_id_rotates(start_console: ConsoleFactory) -> None:
    console = await start_console()
    await console.client.get("/admin/login")
    before = console.client.session.cookie_jar.filter_cookies(console.client.make_url("/admin/"))["relay_admin"].value
    resp = await sign_in(console)
    assert resp.status == 303 and resp.headers["Location"] == "/admin/"
    after = resp.cookies["relay_admin"].value
    assert after != before
    home = await console.client.get("/admin/")
    assert home.status == 200 and "Break Glass (owner)" in await home.text()
    entry = json.loads(console.audit_lines()[-1])
    assert entry["action"] == "signin.local" and entry["outcome"] == "ok" and entry["role"] == "owner"
    assert entry["address"] == "127.0.0.1"


async def test_wrong_password_or_code_or_replayed_code_is_refused(start_console: ConsoleFactory) -> None:
    console = await start_console()
    assert (await sign_in(console, password="wrong password here")).status == 401
    wrong = f"{(int(code_now()) + 1) % 1_000_000:06d}"
    assert (await sign_in(console, code=wrong)).status == 401
    code = code_now()
    assert (await sign_in(console, code=code)).status == 303
    console.client.session.cookie_jar.clear()
    assert (await sign_in(console, code=code)).status == 401, "a TOTP code works once"
    outcomes = [json.loads(line)["outcome"] for line in console.audit_lines()]
    assert outcomes == ["rejected", "rejected", "ok", "rejected"]
    assert OWNER_PASSWORD not in "".join(console.audit_lines()) and code not in "".join(console.audit_lines())


async def test_sign_out_ends_the_session(start_console: ConsoleFactory) -> None:
    console = await start_console()
    await sign_in(console)
    page = await (await console.client.get("/admin/")).text()
    token = CSRF.search(page)
    assert token is not None
    out = await console.client.post("/admin/logout", data={"csrf_token": token.group(1)}, allow_redirects=False)
    assert out.status == 303
    again = await console.client.get("/admin/", allow_redirects=False)
    assert again.status == 303 and again.headers["Location"] == "/admin/login"
    assert json.loads(console.audit_lines()[-1])["action"] == "signout"


async def test_idle_and_absolute_timeouts(start_console: ConsoleFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    console = await start_console()
    await sign_in(console)
    now = time.time()
    monkeypatch.setattr("relay.admin.sessions.time.time", lambda: now + 1700)
    assert (await console.client.get("/admin/", allow_redirects=False)).status == 200
    monkeypatch.setattr("relay.admin.sessions.time.time", lambda: now + 1700 + 1801)
    assert (await console.client.get("/admin/", allow_redirects=False)).status == 303, "idle too long"
    await sign_in(console)
    start = time.time()
    for step in range(1, 30):
        monkeypatch.setattr("relay.admin.sessions.time.time", lambda s=step: start + s * 1500)
        resp = await console.client.get("/admin/", allow_redirects=False)
        if resp.status == 303:
            break
    assert step * 1500 > 43200 >= (step - 1) * 1500, "the absolute limit ends even an active session"


async def test_no_sign_in_method_means_no_console(start_relay: Any) -> None:
    client, _ = await start_relay(sandbox_workspace())
    for path in ("/admin", "/admin/", "/admin/login"):
        assert (await client.get(path, allow_redirects=False)).status == 404


def test_create_owner_stores_a_hash_and_the_config_accepts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setenv("RELAY_MASTER_KEY", "kK9-master-key-for-tests-4f2a7c")
    monkeypatch.setattr(pyotp, "random_base32", lambda: TOTP_SEED)
    secrets_file = tmp_path / "secrets.json"
    lines = f"Ops Owner\n{OWNER_PASSWORD}\n{OWNER_PASSWORD}\n{code_now()}\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    assert cli.main(["admin", "create-owner", "--file", str(secrets_file)]) == 0
    out = capsys.readouterr().out
    assert "ADMIN_OWNER stored (value ***)" in out and OWNER_PASSWORD not in out
    stored = load_secrets(secrets_file, "kK9-master-key-for-tests-4f2a7c")["ADMIN_OWNER"]
    assert OWNER_PASSWORD not in stored and json.loads(stored)["hash"].startswith("$argon2id$")
    raw = sandbox_workspace()
    raw["workspace"]["secrets_file"] = str(secrets_file)
    raw["admin"] = {"local_owner": "${ADMIN_OWNER}"}
    from relay import config

    assert config.parse(raw, "<test>").relay.admin.methods == ["local"]


def test_create_owner_refuses_a_short_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setenv("RELAY_MASTER_KEY", "kK9-master-key-for-tests-4f2a7c")
    monkeypatch.setattr("sys.stdin", io.StringIO("x\nshort\n"))
    assert cli.main(["admin", "create-owner", "--file", str(tmp_path / "s.json")]) == 2
    assert "at least 12 characters" in capsys.readouterr().err
    assert not (tmp_path / "s.json").exists()


async def test_console_beyond_loopback_needs_an_https_public_url(tmp_path: Path) -> None:
    from relay import config
    from relay.app import create_app
    from relay.errors import ConfigError
    from relay.exposure import Exposure
    from tests.support.admin_console import admin_workspace

    loaded = config.parse(admin_workspace(tmp_path), "relay.toml", tmp_path)
    with pytest.raises(ConfigError) as caught:
        await create_app(loaded, exposure=Exposure("0.0.0.0", None, "relay.toml"))
    (problem,) = caught.value.problems
    assert problem.startswith("relay.toml: admin: the console is refused because the relay listens on 0.0.0.0")
    assert "server.public_url" in problem and "--host 127.0.0.1" in problem


async def test_https_public_url_gives_secure_host_cookies(start_console: ConsoleFactory, tmp_path: Path) -> None:
    from tests.support.admin_console import admin_workspace

    raw = admin_workspace(tmp_path)
    raw["server"] = {"public_url": "https://relay.example.com"}
    console = await start_console(raw)
    resp = await console.client.get("/admin/login")
    cookie = resp.cookies["__Host-relay_admin"]
    assert cookie["secure"] and cookie["httponly"] and cookie["path"] == "/"


async def test_repeated_attempts_are_slowed_down(
    start_console: ConsoleFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("relay.admin.signin.ATTEMPT_INTERVAL", 600.0)
    console = await start_console()
    statuses = [(await sign_in(console, password="wrong password here")).status for _ in range(12)]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
    assert (await sign_in(console)).status == 429, "even the right password waits"
    assert json.loads(console.audit_lines()[-1])["outcome"] == "throttled"
