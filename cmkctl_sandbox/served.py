"""The sandbox as its own process (`cmkctl sandbox serve DIR`), and how a cmkctl run finds it.

In process, the emulator shares the caller's GIL: a fleet plan then spends its CPU on both sides of
every request, which no real control plane costs it. Served, it runs beside cmkctl instead, and
`--sandbox DIR` connects to it through `DIR/endpoints.json`.

One sandbox per DIR, whichever kind: each holds an exclusive `flock` on `DIR/sandbox.lock` while it
runs (the kernel drops it however the holder dies), because two servers on one state.json would
each write their own copy of the world over the other's.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from cmkctl_sandbox.dirlock import DirectoryLock
from cmkctl_sandbox.errors import SandboxBusy, SandboxError
from cmkctl_sandbox.offer import Endpoints

ENDPOINTS_FILE = "endpoints.json"


@dataclass(frozen=True)
class Served:
    """What DIR/endpoints.json says: who serves the sandbox, and where each plane answers."""

    pid: int
    endpoints: Endpoints
    aws_account_id: str | None = None

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "endpoints": asdict(self.endpoints),
                           "awsAccountId": self.aws_account_id}, indent=2) + "\n"

    @staticmethod
    def from_json(text: str) -> Served:
        document = json.loads(text)
        return Served(pid=int(document["pid"]), endpoints=Endpoints(**document["endpoints"]),
                      aws_account_id=document.get("awsAccountId"))


def claim(directory: Path) -> DirectoryLock:
    """DIR's sandbox lock, taken; SandboxBusy (naming the holder) when another sandbox has it."""
    lock = DirectoryLock(directory)
    holder = lock.try_acquire()
    if holder is not None:
        raise SandboxBusy(f"another sandbox already serves {directory}: {holder.describe()} ({lock.path}). "
                          "Two servers on one state.json would corrupt it; stop that one, or run cmkctl while "
                          "it serves (a `cmkctl sandbox serve` is found through its endpoints.json)")
    # Whatever endpoints.json is left is a dead server's: nobody else can hold the lock.
    (directory / ENDPOINTS_FILE).unlink(missing_ok=True)
    return lock


def publish(directory: Path, served: Served) -> Path:
    """Write DIR/endpoints.json atomically: a reader sees all of it or none."""
    path = directory / ENDPOINTS_FILE
    temporary = path.with_name(f".{path.name}.{served.pid}.tmp")
    temporary.write_text(served.to_json(), "utf-8")
    os.replace(temporary, path)
    return path


def withdraw(directory: Path) -> None:
    (directory / ENDPOINTS_FILE).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def running(directory: Path) -> Served | None:
    """The sandbox serving DIR, if its endpoints.json names a live process; None otherwise."""
    try:
        served = Served.from_json((directory / ENDPOINTS_FILE).read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SandboxError(f"{directory / ENDPOINTS_FILE}: unreadable ({error}); remove it if no sandbox serves "
                       f"{directory}") from None
    return served if _alive(served.pid) else None


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
    def endpoints(self) -> Endpoints: ...

    @property
    def aws_account_id(self) -> str | None: ...

    def start(self) -> object: ...

    def stop(self) -> None: ...


def serve(sandbox: Startable, announce: Callable[[Path], None]) -> None:
    """Start `sandbox`, publish its endpoints, serve until SIGTERM/SIGINT, then withdraw and stop."""
    sandbox.start()
    try:
        path = publish(sandbox.directory, Served(pid=os.getpid(), endpoints=sandbox.endpoints,
                                                 aws_account_id=sandbox.aws_account_id))
        until_signalled(lambda: announce(path))
    finally:
        # Withdrawn first: a run starting now starts its own sandbox once this one is gone.
        withdraw(sandbox.directory)
        sandbox.stop()
