"""Azurite, the Azure Storage emulator (blob service only), started by the tests on loopback and stopped by its pid.

It answers HTTPS (`--cert`, `--key`), with a certificate from a CA the tests make: cmkctl sends the
storage credential over HTTPS only, loopback included; clients trust the CA as an operator would
trust a private one, through REQUESTS_CA_BUNDLE.

Found at `$CMKCTL_AZURITE` (the `azurite-blob` executable), else where the README's test command and
`.ci/run` install it from its lock: `.ci/.azurite/node_modules/.bin/azurite-blob`. Missing, the tests that need it
fail and say how to install it: a lock test that is skipped tests nothing.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AZURITE_VARIABLE = "CMKCTL_AZURITE"
INSTALLED = ROOT / ".ci" / ".azurite" / "node_modules" / ".bin" / "azurite-blob"
INSTALL = "npm ci --prefix .ci/.azurite"
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development account key, published with the emulator: not a secret.
DEVELOPMENT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
LISTENING = re.compile(r"successfully listens on https://127\.0\.0\.1:(\d+)")


@dataclass(frozen=True)
class Azurite:
    connection: str  # its connection string (the development account's key, an https BlobEndpoint)
    ca_bundle: str   # the CA certificate that verifies it


def executable() -> Path:
    explicit = os.environ.get(AZURITE_VARIABLE)
    found = Path(explicit) if explicit else INSTALLED
    if not found.is_file():
        pytest.fail(f"Azurite was not found at {found} ({AZURITE_VARIABLE} or the default place): install it "
                    f"with `{INSTALL}` (the README's test command does), or point {AZURITE_VARIABLE} at azurite-blob")
    if shutil.which("node") is None:
        pytest.fail("Azurite needs Node.js (`node` on PATH)")
    return found


def connection_string(port: int, scheme: str = "https") -> str:
    return (f"DefaultEndpointsProtocol={scheme};AccountName={ACCOUNT};AccountKey={DEVELOPMENT_KEY};"
            f"BlobEndpoint={scheme}://127.0.0.1:{port}/{ACCOUNT};")


@contextlib.contextmanager
def running(workdir: Path) -> Iterator[Azurite]:
    """Azurite on a free loopback port, in memory, over HTTPS."""
    import trustme

    authority = trustme.CA()
    served = authority.issue_cert("127.0.0.1")
    served.cert_chain_pems[0].write_to_path(str(workdir / "cert.pem"))
    served.private_key_pem.write_to_path(str(workdir / "key.pem"))
    authority.cert_pem.write_to_path(str(workdir / "ca.pem"))
    process = subprocess.Popen(
        [str(executable()), "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence",
         "--extentMemoryLimit", "64", "--skipApiVersionCheck", "--loose", "--disableTelemetry", "--silent",
         "--cert", str(workdir / "cert.pem"), "--key", str(workdir / "key.pem")],
        cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield Azurite(connection_string(_port(process)), str(workdir / "ca.pem"))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _port(process: subprocess.Popen[str]) -> int:
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=read, name="azurite-output", daemon=True).start()
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=60)
        except queue.Empty:
            pytest.fail(f"Azurite did not start within 60 s: {''.join(seen)}")
        if not line:
            pytest.fail(f"Azurite exited ({process.wait()}): {''.join(seen)}")
        seen.append(line)
        if match := LISTENING.search(line):
            return int(match.group(1))


def new_container(server: Azurite) -> str:
    from azure.storage.blob import BlobServiceClient

    name = f"locks-{uuid.uuid4().hex[:12]}"
    BlobServiceClient.from_connection_string(server.connection, connection_verify=server.ca_bundle
                                             ).create_container(name)
    return name
