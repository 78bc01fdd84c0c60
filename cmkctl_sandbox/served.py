"""The sandbox as its own process (`cmkctl sandbox serve DIR`), and how a client joins it.

In process, the emulator shares the caller's GIL: a fleet plan then spends its CPU on both sides of
every request, which no real control plane costs it. Served, it runs beside cmkctl instead.

One sandbox per DIR, whichever kind: each holds an exclusive OS file lock on `DIR/sandbox.lock`
while it runs (the system drops it however the holder dies), because two servers on one state.json
would each write their own copy of the world over the other's.

A served emulator writes where it answers to `DIR/endpoints.json`, and prints a key: its CA's
fingerprint and a secret. A client trusts nothing the folder says: it joins only an emulator whose
CA has the fingerprint of the key it was given, whose every endpoint is HTTPS on a loopback
address, and which proves, by answering on TLS that CA verifies, that it holds the CA's private
key; it gets the emulator's issued credentials over that channel, with the key's secret. A planted
endpoints.json naming another server and CA is refused before anything is sent to it.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import json
import os
import secrets
import signal
import ssl
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Protocol
from urllib.parse import urlsplit

from cmkctl_sandbox.clock import EmulatorClock
from cmkctl_sandbox.credentials import Issued
from cmkctl_sandbox.dirlock import DirectoryLock
from cmkctl_sandbox.errors import SandboxBusy, UntrustedSandbox
from cmkctl_sandbox.offer import Endpoints, Offer

ENDPOINTS_FILE = "endpoints.json"
KEY_PREFIX = "cmkctl-sandbox-1"
# endpoints.json is the emulator's own, small file; anything larger is not its.
MAX_ENDPOINTS_BYTES = 64 * 1024
PLANES = ("arm", "graph", "astra", "confluent", "aws")


def ca_fingerprint(pem: bytes) -> str:
    """SHA-256 of a CA certificate (DER), in hex."""
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.decode("ascii"))).hexdigest()


@dataclass(frozen=True, repr=False)
class Key:
    """What `cmkctl sandbox serve` prints: the fingerprint of the emulator's CA, and the control secret."""

    fingerprint: str
    secret: str

    def __str__(self) -> str:
        return f"{KEY_PREFIX}.{self.fingerprint}.{self.secret}"

    def __repr__(self) -> str:
        return "Key(***)"

    @staticmethod
    def parse(text: str) -> Key:
        prefix, _, rest = text.strip().partition(".")
        fingerprint, _, secret = rest.partition(".")
        if prefix != KEY_PREFIX or len(fingerprint) != 64 or not secret:
            raise UntrustedSandbox(f"the sandbox key is not one `cmkctl sandbox serve` prints ({KEY_PREFIX}.…)")
        return Key(fingerprint.lower(), secret)


@dataclass(frozen=True)
class Served:
    """What DIR/endpoints.json says: who serves the sandbox, where each plane answers, its CA."""

    pid: int
    endpoints: Endpoints
    ca_pem: str
    aws_account_id: str | None = None

    def to_json(self) -> str:
        urls = {plane: getattr(self.endpoints, plane) for plane in PLANES}
        return json.dumps({"pid": self.pid, "endpoints": urls, "caPem": self.ca_pem,
                           "awsAccountId": self.aws_account_id}, indent=2) + "\n"

    @staticmethod
    def from_json(text: str) -> Served:
        document = json.loads(text)
        urls = document["endpoints"]

        def url(plane: str) -> str:
            return str(urls[plane])

        aws = urls.get("aws")
        endpoints = Endpoints(arm=url("arm"), graph=url("graph"), astra=url("astra"), confluent=url("confluent"),
                              aws=None if aws is None else str(aws))
        return Served(pid=int(document["pid"]), endpoints=endpoints, ca_pem=str(document["caPem"]),
                      aws_account_id=document.get("awsAccountId"))


def claim(directory: Path) -> DirectoryLock:
    """DIR's sandbox lock, taken; SandboxBusy (naming the holder) when another sandbox has it."""
    lock = DirectoryLock(directory)
    holder = lock.try_acquire()
    if holder is not None:
        raise SandboxBusy(f"another sandbox already serves {directory}: {holder.describe()} ({lock.path}). "
                          "Two servers on one state.json would corrupt it; stop that one, or run cmkctl while "
                          "it serves (a run joins a `cmkctl sandbox serve` with the key it printed)")
    # Whatever endpoints.json is left is a dead server's, or planted: nobody else holds the lock.
    (directory / ENDPOINTS_FILE).unlink(missing_ok=True)
    return lock


def serving(directory: Path) -> bool:
    """Whether another process holds DIR's emulator now (a `sandbox serve`, or another run's own)."""
    return DirectoryLock(directory).held_by_another()


def publish(directory: Path, served: Served) -> Path:
    """Write DIR/endpoints.json atomically: a reader sees all of it or none."""
    path = directory / ENDPOINTS_FILE
    temporary = path.with_name(f".{path.name}.{served.pid}.tmp")
    temporary.write_text(served.to_json(), "utf-8")
    os.replace(temporary, path)
    return path


def withdraw(directory: Path) -> None:
    (directory / ENDPOINTS_FILE).unlink(missing_ok=True)


def _read_served(directory: Path) -> Served:
    path = directory / ENDPOINTS_FILE
    try:
        # Non-blocking: a FIFO planted in its place must not hang the run; only a regular file is read.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(descriptor, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise OSError("not a regular file")
            text = file.read(MAX_ENDPOINTS_BYTES + 1)
        if len(text) > MAX_ENDPOINTS_BYTES:
            raise ValueError("larger than an endpoints file")
        return Served.from_json(text.decode("utf-8"))
    except FileNotFoundError:
        raise SandboxBusy(f"another process holds the sandbox in {directory} (a run with its own embedded "
                          "sandbox, or a `cmkctl sandbox serve` still starting): wait for it to end, or try "
                          "again once `sandbox serve` prints its key") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UntrustedSandbox(f"{path}: unreadable ({type(error).__name__}); nothing was sent to the "
                               "sandbox it may name") from None


def _loopback_https(url: str | None, plane: str) -> tuple[str, int] | None:
    if url is None:
        return None
    parts = urlsplit(url)
    try:
        address = ipaddress.ip_address(parts.hostname or "")
        port = parts.port
    except ValueError:
        address, port = None, None
    if parts.scheme != "https" or address is None or not address.is_loopback or port is None:
        raise UntrustedSandbox(f"the sandbox's endpoints.json names {plane} at {url!r}: a sandbox answers on "
                               "https at a loopback address only; nothing was sent to it")
    return str(address), port


def join(directory: Path, key_text: str | None, *, variable: str) -> Offer:
    """The offer of the emulator serving DIR, once it is shown to be the one `key_text` was printed by."""
    served = _read_served(directory)
    if not key_text:
        raise UntrustedSandbox(f"a `cmkctl sandbox serve` serves {directory} (pid {served.pid}, per its "
                               f"{ENDPOINTS_FILE}); a run joins it only with the key it printed: set {variable} "
                               "to the value it printed after `export`; nothing was sent to it")
    key = Key.parse(key_text)
    try:
        matches = ca_fingerprint(served.ca_pem.encode("ascii")) == key.fingerprint
    except (ValueError, UnicodeEncodeError):
        matches = False
    if not matches:
        raise UntrustedSandbox(f"the sandbox serving {directory} is not the one {variable} was printed by (its CA "
                               "differs); nothing was sent to it. Give the key its `sandbox serve` printed")
    arm = _loopback_https(served.endpoints.arm, "arm")
    assert arm is not None
    for plane in PLANES:
        _loopback_https(getattr(served.endpoints, plane), plane)
    control = _Control(arm, served.ca_pem, key.secret)
    session = control.call("GET", "session")
    try:
        issued, offset = Issued.from_json(session["issued"]), float(session["clockOffset"])
    except (KeyError, TypeError, ValueError):
        raise UntrustedSandbox(f"the sandbox serving {directory} answered its session unreadably") from None
    return Offer(endpoints=served.endpoints, ca_pem=served.ca_pem.encode("ascii"), vault_address=arm, issued=issued,
                 clock=EmulatorClock(control.advance, offset), aws_account_id=served.aws_account_id)


class _Control:
    """The served emulator's control channel (control.py), over TLS its CA verifies."""

    def __init__(self, address: tuple[str, int], ca_pem: str, secret: str) -> None:
        self._address = address
        self._context = ssl.create_default_context(cadata=ca_pem)
        self._secret = secret

    def call(self, method: str, operation: str, body: Any = None) -> Any:
        connection = http.client.HTTPSConnection(*self._address, context=self._context, timeout=30)
        try:
            payload = None if body is None else json.dumps(body)
            connection.request(method, f"/_sandbox/{operation}", body=payload,
                               headers={"Authorization": f"Bearer {self._secret}",
                                        "Content-Type": "application/json"})
            response = connection.getresponse()
            answer = response.read()
        except (OSError, ssl.SSLError, http.client.HTTPException) as error:
            raise UntrustedSandbox(f"the sandbox at https://{self._address[0]}:{self._address[1]} did not answer "
                                   f"as the one the key names ({type(error).__name__})") from None
        finally:
            connection.close()
        if response.status != 200:
            raise UntrustedSandbox(f"the sandbox refused its control call (HTTP {response.status}): the key is not "
                                   "the one it printed")
        return json.loads(answer)

    def advance(self, at_least: float) -> float:
        reached: float = float(self.call("POST", "clock", {"atLeast": at_least})["clockOffset"])
        return reached


def until_signalled(announce: Callable[[], None], *, poll: float = 0.2) -> None:
    """Call `announce`, then return on SIGTERM or SIGINT (the handlers are restored after)."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[int, Any] = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        announce()
        # A timed wait: a signal delivered to another thread still gets its handler run here.
        while not stop.wait(poll):
            pass
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class Startable(Protocol):
    """What `serve` needs of a Sandbox (not imported: cmkctl_sandbox.session imports this module)."""

    directory: Path

    @property
    def offer(self) -> Offer: ...

    @property
    def fingerprint(self) -> str: ...

    def serve_control(self, secret: str) -> None: ...

    def start(self) -> object: ...

    def stop(self) -> None: ...


def open_to_clients(sandbox: Startable) -> tuple[Path, Key]:
    """Publish a started sandbox's endpoints and open its control channel; its endpoints.json and key."""
    key = Key(sandbox.fingerprint, secrets.token_urlsafe(32))
    sandbox.serve_control(key.secret)
    offer = sandbox.offer
    path = publish(sandbox.directory, Served(pid=os.getpid(), endpoints=offer.endpoints,
                                             ca_pem=offer.ca_pem.decode("ascii"), aws_account_id=offer.aws_account_id))
    return path, key


def serve(sandbox: Startable, announce: Callable[[Path, Key], None]) -> None:
    """Start `sandbox`, publish its endpoints, serve until SIGTERM/SIGINT, then withdraw and stop."""
    sandbox.start()
    try:
        path, key = open_to_clients(sandbox)
        until_signalled(lambda: announce(path, key))
    finally:
        # Withdrawn first: a run starting now starts its own sandbox once this one is gone.
        withdraw(sandbox.directory)
        sandbox.stop()
