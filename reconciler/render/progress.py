"""Progress of an apply as plain lines, one per event, safe for logs and pipes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from reconciler.plan import Step

GERUNDS = {"create": "creating", "update": "updating"}
DONE = {"create": "created", "update": "updated"}


class LineListener:
    def __init__(self, echo: Callable[[str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self._echo = echo
        self._clock = clock
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()

    def step_started(self, step: Step) -> None:
        with self._lock:
            self._started[step.address] = self._clock()
            self._echo(f"{step.address}: {GERUNDS.get(step.action.value, step.action.value)}...")

    def step_finished(self, step: Step) -> None:
        with self._lock:
            elapsed = self._clock() - self._started.get(step.address, self._clock())
            self._echo(f"{step.address}: {DONE.get(step.action.value, 'done')} [{elapsed:.1f}s]")

    def step_failed(self, step: Step, error: BaseException) -> None:
        with self._lock:
            self._echo(f"{step.address}: FAILED")

    def step_skipped(self, step: Step, because: str) -> None:
        with self._lock:
            self._echo(f"{step.address}: skipped ({because} failed)")
