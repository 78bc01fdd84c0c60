"""Two applies of one key set never interleave: a lock held from the plan to the last step.

Local by default: an exclusive `flock` on a file named after the key set, in the sandbox's DIR for
sandbox runs, else in `$CMKCTL_STATE_DIR` (default `$XDG_STATE_HOME/cmkctl`, i.e.
`~/.local/state/cmkctl`) under `locks/`. The kernel releases it when the holder exits, however it
exits (even SIGKILL), so a local lock is never stale. The file holds who took it (user, host, pid,
since), so a second apply names the holder.

Shared, for CI on many machines: a DynamoDB table (`reconciler.providers.aws_lock`), chosen in the
manifest (`lock: {dynamodb: {table, region}}`) or by `--lock-table`. A holder killed without
releasing it leaves the item behind: that lock is stale, and only `cmkctl lock break` removes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from reconciler.core.errors import CmkError

STATE_DIR_VARIABLE = "CMKCTL_STATE_DIR"


class LockError(CmkError):
    """The lock is held by another apply (and did not come free in time), or cannot be taken."""


@dataclass(frozen=True)
class Holder:
    who: str
    host: str
    pid: int
    since: str
    id: str
    key_set: str = ""

    def describe(self) -> str:
        return f"{self.who} on {self.host} (pid {self.pid}) since {self.since}, lock id {self.id}"

    @staticmethod
    def me(key_set: str) -> Holder:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = f"uid {os.getuid()}"
        return Holder(who=who, host=socket.gethostname(), pid=os.getpid(),
                      since=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), id=str(uuid.uuid4()), key_set=key_set)


class Lock(Protocol):
    where: str

    def try_acquire(self, holder: Holder) -> Holder | None:
        """Take the lock for `holder`; None when taken, else whoever holds it."""
        ...

    def release(self, holder: Holder) -> None: ...


def default_directory(sandbox: Path | None) -> Path:
    if sandbox is not None:
        return sandbox / "locks"
    explicit = os.environ.get(STATE_DIR_VARIABLE)
    if explicit:
        return Path(explicit) / "locks"
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "cmkctl" / "locks"


class LocalLock:
    def __init__(self, directory: Path, key_set: str) -> None:
        self.path = directory / f"{key_set}.lock"
        self.where = str(self.path)
        self._fd: int | None = None

    def try_acquire(self, holder: Holder) -> Holder | None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return self._holder() or Holder("unknown", "unknown", 0, "unknown", "unknown")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(holder)).encode() + b"\n", 0)
        self._fd = fd
        return None

    def release(self, holder: Holder) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def _holder(self) -> Holder | None:
        try:
            return Holder(**json.loads(self.path.read_text("utf-8")))
        except (OSError, ValueError, TypeError):
            return None


@contextlib.contextmanager
def held(lock: Lock, key_set: str, *, timeout: float, on_wait: Callable[[Holder], None] = lambda h: None,
         sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
         poll: float = 1.0) -> Iterator[Holder]:
    """Hold `lock` for the block; wait up to `timeout` seconds for it, naming the holder."""
    me = Holder.me(key_set)
    deadline = clock() + timeout
    told = False
    while (holder := lock.try_acquire(me)) is not None:
        if clock() >= deadline:
            raise LockError(f"key set {key_set} is locked by {holder.describe()} ({lock.where}); "
                            f"another apply is running. Wait for it (--lock-timeout SECONDS), or if that apply "
                            f"is dead, break the lock: cmkctl lock break -f MANIFEST --id {holder.id}")
        if not told:
            on_wait(holder)
            told = True
        sleep(min(poll, max(0.0, deadline - clock())))
    try:
        yield me
    finally:
        lock.release(me)
