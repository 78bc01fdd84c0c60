"""The emulator's certificate authority: new at every start, held in memory, its certificate written
to DIR/ca.pem for tools (a run of cmkctl trusts the CA it was handed, never that file).

The one server certificate names the loopback address and `*.vault.azure.net`: Key Vault's
clients reach the emulator through a host mapping and verify the vault's own host name.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

from cmkctl_sandbox.served import ca_fingerprint

CA_FILE = "ca.pem"
HOST = "127.0.0.1"
NAMES = (HOST, "localhost", "*.vault.azure.net")


@dataclass(frozen=True)
class Authority:
    context: ssl.SSLContext  # the servers' TLS context
    ca_pem: bytes

    @property
    def fingerprint(self) -> str:
        return ca_fingerprint(self.ca_pem)


def new_authority(directory: Path) -> Authority:
    authority = trustme.CA()
    certificate = authority.issue_cert(*NAMES)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(context)
    pem = authority.cert_pem.bytes()
    (directory / CA_FILE).write_bytes(pem)
    return Authority(context=context, ca_pem=pem)


def server_context(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A TLS context for a loopback server, and DIR/ca.pem that trusts it (test doubles use this)."""
    authority = new_authority(directory)
    return authority.context, directory / CA_FILE
