"""`cmkctl sandbox serve DIR`: plan and apply join it with the key it prints, no second sandbox starts on its
state, and a run trusts nothing the folder says: a planted endpoints.json receives nothing."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from cmkctl_sandbox import Sandbox
from cmkctl_sandbox.dirlock import DirectoryLock
from cmkctl_sandbox.errors import SandboxBusy
from cmkctl_sandbox.served import ENDPOINTS_FILE, Key, ca_fingerprint
from cmkctl_sandbox.state import read_calls
from reconciler.usecases.emulator import KEY_VARIABLE
from tests.conftest import EXAMPLES, ROOT, Result

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"
SERVE = [sys.executable, "-m", "reconciler", "sandbox", "serve"]
# An operator's real credentials, which a sandbox run must never send anywhere.
REAL = {"ASTRA_DB_APPLICATION_TOKEN": "AstraCS:canary-real-astra-2b7e",
        "CONFLUENT_CLOUD_API_KEY": "canary-real-confluent-key", "CONFLUENT_CLOUD_API_SECRET": "canary-real-secret-91",
        "AWS_ACCESS_KEY_ID": "AKIACANARYREAL111111", "AWS_SECRET_ACCESS_KEY": "canary-real-aws-4c",
        "AZURE_CLIENT_SECRET": "canary-real-azure-7f"}


def wait_for_key(directory: Path, server: subprocess.Popen[str], seconds: float = 60,
                 said: list[str] | None = None) -> str:
    """The key `sandbox serve` prints, once its endpoints.json is written (what it printed, into `said`)."""
    assert server.stdout is not None
    deadline = time.monotonic() + seconds
    while not (line := server.stdout.readline()).startswith("Runs join it with its key: "):
        assert line, server.communicate()
        assert time.monotonic() < deadline, f"no key printed within {seconds}s"
        (said if said is not None else []).append(line)
    assert (directory / ENDPOINTS_FILE).exists()
    return line.rsplit(f"export {KEY_VARIABLE}=", 1)[1].strip()


def stop(server: subprocess.Popen[str]) -> tuple[str, str]:
    server.terminate()
    try:
        return server.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        return server.communicate(timeout=30)


def test_plan_joins_a_served_sandbox_with_its_key_and_a_second_server_is_refused(
        cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = tmp_path / "sandbox"
    server = subprocess.Popen([*SERVE, str(sandbox), "-f", str(EXAMPLE)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    said: list[str] = []
    try:
        key = wait_for_key(sandbox, server, said=said)
        published = json.loads((sandbox / ENDPOINTS_FILE).read_text())
        assert published["pid"] == server.pid
        assert published["awsAccountId"] is None  # the example has no AWS region: no moto
        assert str(published["endpoints"]["arm"]).startswith("https://127.0.0.1:")
        assert Key.parse(key).fingerprint == ca_fingerprint(published["caPem"].encode())

        # Without its key, a run refuses the server, says how to get the key, and sends it nothing.
        refused = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox)
        assert refused.code == 1 and f"set {KEY_VARIABLE} to the value it printed" in refused.err, refused.err
        assert read_calls(sandbox) == []

        monkeypatch.setenv(KEY_VARIABLE, key)
        planned = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox)
        assert planned.code == 0, planned.out + planned.err
        assert "to create" in planned.out
        assert read_calls(sandbox)  # the server answered (and journalled) the plan's reads

        second = subprocess.run([*SERVE, str(sandbox)], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert f"another sandbox already serves {sandbox}" in second.stderr
        assert f"(pid {server.pid})" in second.stderr
        with pytest.raises(SandboxBusy):  # nor in process, whatever starts it
            Sandbox(sandbox).start()
        assert json.loads((sandbox / ENDPOINTS_FILE).read_text()) == published  # untouched by the refusals
    finally:
        out, err = stop(server)
    assert server.returncode == 0, out + err
    assert f"endpoints in {sandbox / ENDPOINTS_FILE}" in "".join(said)
    assert not (sandbox / ENDPOINTS_FILE).exists()  # withdrawn: the next run starts its own sandbox again
    assert cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox).code == 0


class _Recorder(BaseHTTPRequestHandler):
    """An attacker's server: it records whatever reaches it, and answers like nothing."""

    received: list[dict[str, Any]]

    def do_GET(self) -> None:
        self.server.received.append({"method": self.command, "path": self.path,  # type: ignore[attr-defined]
                                     "headers": dict(self.headers.items())})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_POST = do_PUT = do_PATCH = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def attacker() -> Iterator[tuple[str, bytes, list[dict[str, Any]]]]:
    """A loopback HTTPS server of the test's own, with its own CA: its URL, CA and what it received."""
    authority = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    received: list[dict[str, Any]] = []
    server.received = received  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", authority.cert_pem.bytes(), received
    finally:
        server.shutdown()
        server.server_close()


def plant(directory: Path, url: str, ca_pem: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / ENDPOINTS_FILE).write_text(json.dumps({
        "pid": 1, "caPem": ca_pem.decode(), "awsAccountId": None,
        "endpoints": {"arm": url, "graph": url, "astra": url, "confluent": url, "aws": None}}))


def plan_while_held(cmkctl: Callable[..., Result], sandbox: Path) -> Result:
    """A plan of the folder while another holds it, as a serving emulator would (here: the test itself)."""
    holder = DirectoryLock(sandbox)
    assert holder.try_acquire() is None
    try:
        result: Result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox)
    finally:
        holder.release()
    return result


@pytest.fixture
def real_credentials(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in REAL.items():
        monkeypatch.setenv(name, value)
    return REAL


def test_a_planted_endpoints_file_is_ignored_when_nothing_serves_the_folder(
        cmkctl: Callable[..., Result], tmp_path: Path, real_credentials: dict[str, str]) -> None:
    sandbox = tmp_path / "sandbox"
    with attacker() as (url, ca, received):
        plant(sandbox, url, ca)
        planned = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox)
    assert planned.code == 0, planned.out + planned.err  # against a sandbox of its own, started here
    assert received == []
    assert read_calls(sandbox)


@pytest.mark.parametrize("given", ["none", "another server's", "the copied CA's"])
def test_a_planted_endpoints_file_of_a_held_folder_receives_nothing(
        cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        real_credentials: dict[str, str], given: str) -> None:
    """The folder is held (as by a server), and its endpoints.json names the attacker's server and CA."""
    sandbox = tmp_path / "sandbox"
    with attacker() as (url, ca, received):
        if given == "another server's":
            with Sandbox(tmp_path / "elsewhere") as other:
                monkeypatch.setenv(KEY_VARIABLE, str(Key(other.fingerprint, "its-secret")))
        plant(sandbox, url, ca)
        if given == "the copied CA's":
            # The attacker copies a real server's CA certificate, whose key the user holds: the fingerprint
            # matches, but the attacker's server cannot prove it holds that CA's key.
            with Sandbox(tmp_path / "real") as real:
                monkeypatch.setenv(KEY_VARIABLE, str(Key(real.fingerprint, "its-secret")))
                plant(sandbox, url, real.offer.ca_pem)
        refused = plan_while_held(cmkctl, sandbox)
    assert refused.code == 1, refused.out + refused.err
    assert "nothing was sent" in refused.err or "did not answer as the one the key names" in refused.err
    assert received == []  # not a request, not a credential


def test_a_served_sandbox_must_answer_on_loopback(cmkctl: Callable[..., Result], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = tmp_path / "sandbox"
    with Sandbox(tmp_path / "real") as real:
        monkeypatch.setenv(KEY_VARIABLE, str(Key(real.fingerprint, "its-secret")))
        plant(sandbox, "https://203.0.113.7:443", real.offer.ca_pem)  # TEST-NET-3: never reached
    refused = plan_while_held(cmkctl, sandbox)
    assert refused.code == 1 and "a sandbox answers on https at a loopback address only" in refused.err


def test_a_served_emulator_hands_its_credentials_and_clock_only_to_its_key(tmp_path: Path) -> None:
    from cmkctl_sandbox.errors import UntrustedSandbox
    from cmkctl_sandbox.served import join, open_to_clients

    with Sandbox(tmp_path / "sandbox") as sandbox:
        _, key = open_to_clients(sandbox)
        joined = join(sandbox.directory, str(key), variable=KEY_VARIABLE)
        assert joined.issued == sandbox.issued and joined.ca_pem == sandbox.offer.ca_pem
        joined.clock.sleep(120)  # over the control channel, on the emulator's HTTPS
        assert sandbox.clock_offset >= 120
        with pytest.raises(UntrustedSandbox, match="refused its control call"):
            join(sandbox.directory, str(Key(key.fingerprint, "not-its-secret")), variable=KEY_VARIABLE)
    assert sandbox.calls() == []  # the control channel is the emulator's own, not a cloud's: not journalled
