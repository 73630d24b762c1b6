"""The [admin] section: every mistake named by its key, with the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from relay import config
from relay.errors import ConfigError
from tests.conftest import sandbox_workspace


def problems_of(admin: dict[str, Any], base: Path | None = None) -> list[str]:
    raw = sandbox_workspace()
    raw["admin"] = admin
    with pytest.raises(ConfigError) as caught:
        config.parse(raw, "relay.toml", base)
    return caught.value.problems


def test_identity_provider_without_a_role_mapping() -> None:
    (problem,) = problems_of({"oidc": {"issuer": "https://login.example.com", "client_id": "relay"}})
    assert problem.startswith("relay.toml: admin: admin.roles must map at least one group")


def test_each_bad_key_is_named() -> None:
    found = problems_of(
        {
            "oidc": {"issuer": "login.example.com", "client_id": "relay", "scopes": ["profile"]},
            "roles": {"owner": ["owners"]},
            "local_owner": "hunter2-typed-here",
            "session_idle": 5,
            "sesion_absolute": 60,
        }
    )
    assert {p.split(": ")[1] for p in found} == {
        "admin.oidc.issuer",
        "admin.oidc.scopes",
        "admin.local_owner",
        "admin.session_idle",
        "admin.sesion_absolute",
    }
    assert not any("hunter2" in p for p in found), "the value is never echoed"


def test_saml_metadata_is_looked_up_next_to_the_config(tmp_path: Path) -> None:
    admin = {"saml": {"idp_metadata": "idp.xml"}, "roles": {"owner": ["owners"]}}
    (problem,) = problems_of(admin, tmp_path)
    assert problem == (
        f"relay.toml: admin.saml.idp_metadata: no file at {tmp_path / 'idp.xml'}: "
        "save the identity provider's metadata XML there"
    )
    (tmp_path / "idp.xml").write_text("<md:EntityDescriptor/>")
    raw = sandbox_workspace()
    raw["admin"] = admin
    assert config.parse(raw, "relay.toml", tmp_path).relay.admin.methods == ["saml"]
