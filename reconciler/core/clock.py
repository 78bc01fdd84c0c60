"""The run's clock: every wait of a run (retries, the SDKs' backoffs, long-running-operation polls)
goes through the one injected into its Connection.

A real run waits on the system clock. A run against the emulator waits on the emulator's own time,
which a sleep moves on at once (see cmkctl_sandbox/README.md, "The clock"); tests inject a fake one.
Nothing in cmkctl calls `time.sleep` for a run's waits.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (its origin means nothing)."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def thread_time(self) -> float:
        """Seconds the calling thread has lived on this clock: its real time plus its own sleeps (origin
        meaningless). On the system clock it is `monotonic()`; on a clock other threads' sleeps move on
        too (the emulator's), it leaves their sleeps out, so one thread's wait is measured by its own."""
        ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def thread_time(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK = SystemClock()
