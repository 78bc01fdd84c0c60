"""A test hook: stop the world right after a chosen mutating request, so a test can kill the caller there.

`CMKCTL_SANDBOX_HALT_AFTER` in the environment of the process running the sandbox:

- `kms:CreateKey` (a plane's `service:Action` label, as calls.jsonl names AWS calls): the first such
  request;
- `mutation:N`: the Nth mutating request (PUT, POST, PATCH, DELETE, or a KMS write) that reached a
  plane in this sandbox session, whatever its answer.

That request is carried out and saved, `DIR/halted` is written (the label and count), and neither
its reply nor any later request's ever leaves: every plane hangs until the process is killed.
Nothing but the sandbox reads the variable.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

HALT_VARIABLE = "CMKCTL_SANDBOX_HALT_AFTER"
HALT_MARKER = "halted"


class Halt:
    def __init__(self, directory: Path, spec: str | None = None) -> None:
        self.directory = directory
        self.spec = (os.environ.get(HALT_VARIABLE, "") if spec is None else spec).strip()
        self._lock = threading.Lock()
        self._mutations = 0
        self._halted = threading.Event()
        self._nth = int(self.spec.split(":", 1)[1]) if self.spec.startswith("mutation:") else None

    def gate(self) -> None:
        """Hang here once the world has halted."""
        if self._halted.is_set():
            threading.Event().wait()

    def carried_out(self, label: str, mutating: bool) -> None:
        """Called after a request reached a plane (and was saved); halts when it is the chosen one."""
        if not self.spec or not mutating:
            return
        with self._lock:
            self._mutations += 1
            chosen = label == self.spec if self._nth is None else self._mutations == self._nth
            if not chosen or self._halted.is_set():
                return
            self._halted.set()
            (self.directory / HALT_MARKER).write_text(f"{label} {self._mutations}\n")
        threading.Event().wait()
