"""`relay admin create-owner`: the break-glass owner account, stored in the encrypted secrets file."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from relay.config_checks import name_problem
from relay.secret import load_secrets, master_key, save_secrets

DEFAULT_NAME = "ADMIN_OWNER"


def _ask(prompt: str, hidden: bool = False) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(prompt) if hidden else input(prompt)
    print(prompt, end="", flush=True)
    return sys.stdin.readline().rstrip("\n")


def cmd_create_owner(args: argparse.Namespace) -> int:
    import pyotp

    from relay.admin.local import MIN_PASSWORD, new_credential

    if bad := name_problem(args.name):
        print(f"relay admin create-owner: {bad}; nothing stored", file=sys.stderr)
        return 2
    path = Path(args.file or os.environ.get("RELAY_SECRETS_FILE") or "relay-secrets.json")
    master = master_key()
    values = load_secrets(path, master) if path.exists() else {}
    display = _ask("Display name (shown in the console and the audit log): ").strip() or "owner"
    password = _ask(f"Password (at least {MIN_PASSWORD} characters): ", hidden=True)
    if len(password) < MIN_PASSWORD:
        print(f"relay admin create-owner: the password needs at least {MIN_PASSWORD} characters", file=sys.stderr)
        return 2
    if _ask("Password again: ", hidden=True) != password:
        print("relay admin create-owner: the passwords differ; nothing stored", file=sys.stderr)
        return 2
    seed = pyotp.random_base32()
    uri = pyotp.TOTP(seed).provisioning_uri(name=display, issuer_name="Relay admin")
    print("Add this account to your authenticator app (shown once, never stored in clear):")
    print(f"  {uri}")
    if not pyotp.TOTP(seed).verify(_ask("Code from the app: ").strip(), valid_window=1):
        print("relay admin create-owner: that code is wrong; nothing stored, run it again", file=sys.stderr)
        return 2
    values[args.name] = new_credential(display, password, seed).dump()
    save_secrets(path, master, values)
    print(f'{path}: {args.name} stored (value ***). Put local_owner = "${{{args.name}}}" in the [admin] section.')
    return 0


def add_cli(sub: Any) -> None:
    """Add `relay admin ...` to the relay command."""
    admin = sub.add_parser("admin", help="the admin console").add_subparsers(dest="sub", required=True)
    owner = admin.add_parser("create-owner", help="create the break-glass owner (password + authenticator app)")
    owner.add_argument("--name", default=DEFAULT_NAME, help=f"secret name (default {DEFAULT_NAME})")
    owner.add_argument("--file", help="secrets file (default: $RELAY_SECRETS_FILE or relay-secrets.json)")
    owner.set_defaults(func=cmd_create_owner)
