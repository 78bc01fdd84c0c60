"""One emulator per DIR: an exclusive OS file lock on `DIR/sandbox.lock`, held while it runs.

The system drops the lock however its holder ends (even SIGKILL), so it is never stale. Who holds
it (user, host, pid, since) is written beside it, in a file of its own: a second emulator names it.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import BaseFileLock, FileLock, Timeout

LOCK_FILE = "sandbox.lock"
HOLDER_FILE = "sandbox.holder.json"


@dataclass(frozen=True)
class Holder:
    who: str
    host: str
    pid: int
    since: str

    def describe(self) -> str:
        return f"{self.who} on {self.host} (pid {self.pid}) since {self.since}"

    @staticmethod
    def me() -> Holder:
        try:
            who = getpass.getuser()
        except (KeyError, OSError, ImportError):  # no login name (a container's bare uid)
            who = "unknown user"
        return Holder(who=who, host=socket.gethostname(), pid=os.getpid(),
                      since=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


class DirectoryLock:
    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILE
        self._holder_path = directory / HOLDER_FILE
        self._held: BaseFileLock | None = None

    def try_acquire(self) -> Holder | None:
        """Take the lock; None when taken, else whoever holds it."""
        lock = FileLock(str(self.path))
        try:
            lock.acquire(blocking=False)
        except Timeout:
            return self.holder() or Holder("unknown", "unknown", 0, "unknown")
        staged = self._holder_path.with_suffix(f".{os.getpid()}.tmp")
        staged.write_text(json.dumps(asdict(Holder.me())) + "\n", "utf-8")
        os.replace(staged, self._holder_path)
        self._held = lock
        return None

    def held_by_another(self) -> bool:
        """Whether an emulator holds DIR now (this process's own lock aside)."""
        if self._held is not None:
            return False
        probe = FileLock(str(self.path))
        try:
            probe.acquire(blocking=False)
        except Timeout:
            return True
        probe.release()
        return False

    def release(self) -> None:
        if self._held is not None:
            with contextlib.suppress(OSError):
                self._holder_path.unlink()
            self._held.release()
            self._held = None

    def holder(self) -> Holder | None:
        try:
            return Holder(**json.loads(self._holder_path.read_text("utf-8")))
        except (OSError, ValueError, TypeError):
            return None
