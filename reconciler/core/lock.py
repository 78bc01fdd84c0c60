"""Two applies of one key set never interleave: a lock held from the plan to the last step.

Local by default: an exclusive OS file lock (`filelock`: flock on Linux and macOS, a Windows file lock on
Windows) on a file named after the key set, in the sandbox's DIR for sandbox runs, else in
`$CMKCTL_STATE_DIR` (default `$XDG_STATE_HOME/cmkctl`, i.e. `~/.local/state/cmkctl`) under
`locks/`. The system releases it when the holder exits, however it exits (even SIGKILL), so a
local lock is never stale. Who took it (user, host, pid, since) is written beside it, in a file of
its own because Windows does not let others read a locked file, so a second apply names the holder.

Shared, for CI on many machines: a DynamoDB table (`reconciler.providers.aws_lock`) or a blob
lease on Azure Blob Storage (`reconciler.providers.azure_blob_lock`), chosen in the manifest
(`lock: {dynamodb: {table, region}}` or `lock: {azureBlob: {account, container}}`) or by flags. A
holder killed without releasing it leaves its record behind: that lock is stale, and only
`cmkctl lock break` removes it.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from filelock import BaseFileLock, FileLock, Timeout

from reconciler.core.errors import CmkError
from reconciler.core.settings import Settings
from reconciler.core.wirelog import LOG as WIRE

LOG = logging.getLogger("cmkctl.lock")


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
        except (KeyError, OSError, ImportError):  # no login name (a container's bare uid, a service account)
            who = "unknown user"
        return Holder(who=who, host=socket.gethostname(), pid=os.getpid(),
                      since=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), id=str(uuid.uuid4()), key_set=key_set)


@dataclass(frozen=True)
class LockFlags:
    """Where the command line puts the lock, over the manifest's `lock:` (all None: the manifest decides)."""

    table: str | None = None
    region: str | None = None
    blob_account: str | None = None
    blob_container: str | None = None
    blob: str | None = None

    @property
    def given(self) -> bool:
        return any(value is not None for value in asdict(self).values())


class Lock(Protocol):
    where: str

    def try_acquire(self, holder: Holder) -> Holder | None:
        """Take the lock for `holder`; None when taken, else whoever holds it."""
        ...

    def release(self, holder: Holder) -> None: ...

    def advice(self, holder: Holder) -> str:
        """What a refused run can do about `holder`, in this lock kind's own terms."""
        ...


UNKNOWN_HOLDER = Holder("unknown", "unknown", 0, "unknown", "unknown")


def break_advice(holder: Holder, flags: str) -> str:
    """For locks a dead holder leaves behind: the one command that removes its record."""
    where = f" {flags}" if flags else ""
    return (f"Wait for it (--lock-timeout SECONDS), or if that run is dead, break the lock: "
            f"cmkctl lock break -f MANIFEST{where} --id {holder.id}")


def holder_to_break(where: str, current: Holder | None, lock_id: str | None) -> Holder | None:
    """The holder a shared lock's `lock break` may remove: None when unlocked. With `--id`, only
    that holder: a lock taken again since the id was printed belongs to a live run."""
    if current is not None and lock_id is not None and current.id != lock_id:
        raise LockError(f"the lock in {where} is now held by {current.describe()}, not lock id {lock_id}; "
                        "nothing was broken")
    return current


def default_directory(sandbox: Path | None, settings: Settings) -> Path:
    if sandbox is not None:
        return sandbox / "locks"
    return settings.state_directory() / "locks"


class LocalLock:
    def __init__(self, directory: Path, key_set: str) -> None:
        self.path = directory / f"{key_set}.lock"
        self.holder_path = directory / f"{key_set}.holder.json"
        self.where = str(self.path)
        self._held: BaseFileLock | None = None

    def try_acquire(self, holder: Holder) -> Holder | None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file_lock = FileLock(str(self.path))
        try:
            file_lock.acquire(blocking=False)
        except Timeout:
            return self._holder() or UNKNOWN_HOLDER
        staged = self.holder_path.with_suffix(f".{os.getpid()}.tmp")
        staged.write_text(json.dumps(asdict(holder)) + "\n", "utf-8")
        os.replace(staged, self.holder_path)  # a reader sees the old holder or the new one, never half of one
        self._held = file_lock
        return None

    def release(self, holder: Holder) -> None:
        if self._held is not None:
            with contextlib.suppress(OSError):
                self.holder_path.unlink()
            self._held.release()
            self._held = None

    def advice(self, holder: Holder) -> str:
        # `lock break` refuses local locks: the system frees one the moment its holder exits.
        return (f"Wait for it (--lock-timeout SECONDS). A local lock is freed by the system as soon as its holder "
                f"exits, however it exits, so there is nothing to break: if that run is stuck, stop process "
                f"{holder.pid} on {holder.host}")

    def _holder(self) -> Holder | None:
        try:
            return Holder(**json.loads(self.holder_path.read_text("utf-8")))
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
                            f"another apply (or a plan run with --lock) holds it. {lock.advice(holder)}")
        if not told:
            on_wait(holder)
            told = True
        sleep(min(poll, max(0.0, deadline - clock())))
    _said("taken", lock, me)
    try:
        yield me
    finally:
        lock.release(me)
        _said("released", lock, me)


def _said(event: str, lock: Lock, holder: Holder) -> None:
    """In the audit log (who held the key set, when) and on the --debug stream."""
    LOG.info("lock on %s %s (%s), lock id %s", holder.key_set, event, lock.where, holder.id)
    WIRE.lock_event(event=event, key_set=holder.key_set, where=lock.where, lock_id=holder.id)
