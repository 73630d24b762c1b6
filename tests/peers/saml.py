"""SimpleSAMLphp (Debian's package) as a real SAML 2.0 identity provider for the console's sign-in tests,
served by `php -S` on loopback from a config directory of its own.

Needs: apt-get install simplesamlphp php-cli php-xml php-mbstring xmlsec1
"""

from __future__ import annotations

import asyncio
import datetime
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.peers.common import PeerUnavailable

WWW = Path("/usr/share/simplesamlphp/www")
BASE_CONFIG = Path("/etc/simplesamlphp/config.php")
PACKAGES = ("simplesamlphp", "php-cli", "php-xml", "php-mbstring", "xmlsec1")
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"


def missing() -> list[str]:
    """Debian packages this peer needs that are not installed."""
    found = []
    if not WWW.is_dir() or not BASE_CONFIG.is_file():
        found.append("simplesamlphp")
    if shutil.which("php") is None:
        found += ["php-cli", "php-xml", "php-mbstring"]
    if shutil.which("xmlsec1") is None:
        found.append("xmlsec1")
    return found


def _php(value: Any) -> str:
    if isinstance(value, dict):
        return "[" + ", ".join(f"{_php(k)} => {_php(v)}" for k, v in value.items()) + "]"
    if isinstance(value, list):
        return "[" + ", ".join(_php(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def key_pair(directory: Path) -> x509.Certificate:
    """A throwaway RSA key and self-signed certificate, written as idp.key and idp.crt."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay-test-idp")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    (directory / "idp.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (directory / "idp.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert


class SimpleSamlPhp:
    """One IdP on 127.0.0.1:`port` that knows one SP; `users` maps username -> (password, attributes)."""

    def __init__(self, workdir: Path, port: int, sp_entity: str, acs: str, users: dict[str, Any]) -> None:
        self.dir, self.port, self.sp_entity, self.acs, self.users = workdir, port, sp_entity, acs, users
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metadata_file(self) -> Path:
        return self.dir / "idp-metadata.xml"

    def _configure(self) -> None:
        for sub in ("config", "metadata", "cert", "log", "data", "tmp", "sessions"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        key_pair(self.dir / "cert")
        overrides = {
            "baseurlpath": f"{self.url}/",
            "certdir": f"{self.dir}/cert/",
            "loggingdir": f"{self.dir}/log/",
            "datadir": f"{self.dir}/data/",
            "tempdir": f"{self.dir}/tmp",
            "metadatadir": f"{self.dir}/metadata/",
            "secretsalt": secrets.token_hex(16),
            "auth.adminpassword": secrets.token_hex(16),
            "enable.saml20-idp": True,
            "logging.handler": "file",
            "store.type": "phpsession",
            "module.enable": {"exampleauth": True, "core": True, "saml": True},
            "session.cookie.secure": False,
            "language.cookie.secure": False,
            "session.cookie.samesite": None,
            "language.cookie.samesite": None,
        }
        extra = "".join(f"$config[{_php(k)}] = {_php(v)};\n" for k, v in overrides.items())
        (self.dir / "config" / "config.php").write_text(BASE_CONFIG.read_text() + "\n" + extra)
        users = {f"{name}:{password}": attrs for name, (password, attrs) in self.users.items()}
        userpass: dict[Any, Any] = {0: "exampleauth:UserPass", **users}
        sources = {"admin": ["core:AdminPassword"], "users": userpass}
        (self.dir / "config" / "authsources.php").write_text(f"<?php\n$config = {_php(sources)};\n")
        idp = {
            "host": "__DEFAULT__",
            "privatekey": "idp.key",
            "certificate": "idp.crt",
            "auth": "users",
            "saml20.sign.assertion": True,
            "NameIDFormat": TRANSIENT,
            "attributes.NameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
        }
        sp = {"AssertionConsumerService": self.acs, "NameIDFormat": TRANSIENT}
        (self.dir / "metadata" / "saml20-idp-hosted.php").write_text(
            f"<?php\n$metadata['__DYNAMIC:1__'] = {_php(idp)};\n"
        )
        (self.dir / "metadata" / "saml20-sp-remote.php").write_text(
            f"<?php\n$metadata[{_php(self.sp_entity)}] = {_php(sp)};\n"
        )

    async def start(self) -> None:
        if problems := missing():
            raise PeerUnavailable(f"SimpleSAMLphp peer: apt-get install {' '.join(problems)}")
        self._configure()
        env = {**os.environ, "SIMPLESAMLPHP_CONFIG_DIR": str(self.dir / "config")}
        with (self.dir / "log" / "php.log").open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                "php",
                "-d",
                f"session.save_path={self.dir}/sessions",
                "-S",
                f"127.0.0.1:{self.port}",
                "-t",
                str(WWW),
                env=env,
                stdout=log,
                stderr=log,
            )
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(f"{self.url}/saml2/idp/metadata.php") as resp:
                        if resp.status == 200:
                            self.metadata_file.write_bytes(await resp.read())
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        await self.stop()
        raise PeerUnavailable(f"SimpleSAMLphp did not serve its metadata; see {self.dir}/log")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
