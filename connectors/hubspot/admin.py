"""`relay hubspot connect`, added to the relay CLI through the `relay.cli` entry point (hence its own file)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from connectors.hubspot.config import HubSpotConfig
from connectors.hubspot.install import ConnectError, Plan, Say, authorize_url, connect
from relay.admin.oauth import Connected
from relay.errors import DeliveryError
from relay.reasons import RetryClass
from relay.secret import Secret, SecretsFileError, load_secrets, master_key, save_secrets


def _plan(args: argparse.Namespace) -> tuple[Plan, Any]:
    from relay import config as config_mod

    loaded = config_mod.load(Path(args.config))
    names = [n for n, i in loaded.instances.items() if isinstance(i.config, HubSpotConfig)]
    name = args.instance or (names[0] if len(names) == 1 else "")
    inst = loaded.instances.get(name)
    if inst is None or not isinstance(inst.config, HubSpotConfig):
        raise ConnectError(f"no hubspot connector named {name!r} in the config; found: {names}; use --instance")
    messengers = {m: loaded.instances[m].manifest.capabilities for m, crm in loaded.crm_of().items() if crm == name}
    server = loaded.relay.server
    public = (args.public_url or server.public_url or f"http://{server.host}:{server.port}").rstrip("/")
    plan = Plan(name, inst.config, messengers, f"{public}/hooks/{name}", args.redirect_uri, args.code, args.reauthorize)
    plan.wait = args.wait
    return plan, loaded


def _store(token: Secret, args: argparse.Namespace, loaded: Any, say: Say) -> None:
    """Keep the new refresh token in the encrypted secrets file; it is never printed, so when the file
    cannot be written the admin fixes that and authorizes again."""
    given = args.secrets_file or os.environ.get("RELAY_SECRETS_FILE")
    configured = loaded.relay.workspace.secrets_file
    path = Path(given) if given else Path(args.config).parent / (configured or "relay-secrets.json")
    try:
        master = master_key()
        values = load_secrets(path, master) if path.exists() else {}
        values[args.secret_name] = token.reveal()
        save_secrets(path, master, values)
        say(f"Stored the refresh token in {path} as {args.secret_name} (value ***).")
    except SecretsFileError as exc:
        raise ConnectError(
            f"the refresh token could not be stored in {path} ({exc}); it is not printed. Fix that (e.g. "
            "export RELAY_MASTER_KEY) and run `relay hubspot connect --reauthorize` again"
        ) from None


def cmd_connect(args: argparse.Namespace) -> int:
    """`relay hubspot connect`: print the result and the config lines to keep."""
    try:
        plan, loaded = _plan(args)
        issued, channel, accounts = asyncio.run(connect(plan, print))
        if issued is not None:
            _store(issued, args, loaded, print)
    except (ConnectError, DeliveryError) as exc:
        print(f"relay hubspot connect: {exc}", file=sys.stderr)
        return 1
    print("\n".join(plan.changes) or "Nothing changed: the channel and its accounts are as they should be.")
    lines = [f'channel_id = "{channel}"', f'refresh_token = "${{{args.secret_name}}}"', ""]
    lines += [f"[connectors.{plan.instance}.accounts]"]
    lines += [f'{name} = "{account}"' for name, account in sorted(accounts.items())]
    print(f"\nKeep these in [connectors.{plan.instance}]:\n\n" + "\n".join(lines))
    return 0


def add_cli(sub: Any) -> None:
    """Add `relay hubspot connect` to the relay CLI's subparsers."""
    group = sub.add_parser("hubspot", help="HubSpot admin tools").add_subparsers(dest="sub", required=True)
    con = group.add_parser("connect", help="authorize the portal, register the channel and its accounts")
    con.add_argument("--config", required=True, help="workspace TOML file")
    con.add_argument("--instance", help="name of the hubspot connector (default: the only one)")
    con.add_argument("--code", help="the ?code= HubSpot redirected to, pasted (instead of the loopback listener)")
    con.add_argument("--redirect-uri", default="http://127.0.0.1:8765/oauth-callback", help="the app's redirect URL")
    con.add_argument("--public-url", help="the relay's public URL (default: server.public_url)")
    con.add_argument("--reauthorize", action="store_true", help="authorize again even if the token works")
    con.add_argument("--secrets-file", help="where to store the refresh token (default: the workspace's)")
    con.add_argument("--secret-name", default="HUBSPOT_REFRESH_TOKEN", help="its name in the secrets file")
    con.add_argument("--wait", type=float, default=300.0, help="seconds to wait for the redirect")
    con.set_defaults(func=cmd_connect)


class ConsoleConnect:
    """The same install in the admin console: its consent page, then channel and accounts from the code."""

    def authorize_url(self, config: Any, redirect_uri: str, state: str) -> str:
        return authorize_url(config, redirect_uri, state)

    async def finish(self, name: str, loaded: Any, redirect_uri: str, code: str) -> Connected:
        inst = loaded.instances[name]
        messengers = {m: loaded.instances[m].manifest.capabilities for m, crm in loaded.crm_of().items() if crm == name}
        server = loaded.relay.server
        public = (server.public_url or f"http://{server.host}:{server.port}").rstrip("/")
        plan = Plan(name, inst.config, messengers, f"{public}/hooks/{name}", redirect_uri, code, reauthorize=True)
        try:
            issued, channel, accounts = await connect(plan, lambda line: None)
        except DeliveryError as exc:
            unreachable = exc.reason.retry in (RetryClass.RETRY, RetryClass.RETRY_AFTER)
            what = "could not be reached" if unreachable else "refused the install"
            raise ConnectError(f"HubSpot {what} ({exc.reason.value})") from None
        secrets = {"refresh_token": issued.reveal()} if issued is not None else {}
        return Connected({"channel_id": channel, "accounts": accounts}, secrets)


CONSOLE = ConsoleConnect()
