"""The emulator's time: the wall clock moved on by `state.clock.offsetSeconds`.

Its clients wait on it instead of on the wall clock: a client's sleep moves the emulator's time on
by that much and returns at once, and whatever the emulator measures (a grant's propagation, a key's
rotation, a version's expiry) is measured in this time. An apply that waits out ten minutes of
propagation then takes seconds. `cmkctl sandbox advance-clock` moves it on between runs.

A sleep says where it wants the time to be (`at least` the offset it started from plus its
length), not how far to move it: parallel sleepers that start together wake together, as they
would in real time, instead of adding up their waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

State = dict[str, Any]


def offset(state: State) -> float:
    found: float = state.get("clock", {}).get("offsetSeconds", 0)
    return found


def now(state: State) -> float:
    """The emulator's time, in seconds since the epoch."""
    return time.time() + offset(state)


def advance_to(state: State, at_least: float) -> float:
    """Move the offset on to `at_least` (never back); the offset now."""
    reached = max(offset(state), at_least)
    if reached != offset(state):
        state.setdefault("clock", {})["offsetSeconds"] = reached
    return reached


class EmulatorClock:
    """A client's clock (`monotonic()`, `sleep(seconds)`) in the emulator's time.

    `advance(at_least)` asks the emulator to move its offset on and returns the offset reached: in
    process for an embedded emulator, over its HTTPS for a served one.
    """

    def __init__(self, advance: Callable[[float], float], start: float) -> None:
        self._advance = advance
        self._offset = start
        self._lock = threading.Lock()
        # Each thread's own sleeps: its time on this clock leaves out what other threads' sleeps moved on.
        self._slept = threading.local()

    def monotonic(self) -> float:
        with self._lock:
            return time.monotonic() + self._offset

    def thread_time(self) -> float:
        """The calling thread's real time plus its own sleeps (a client's retry budgets are measured in it)."""
        return time.monotonic() + float(getattr(self._slept, "seconds", 0.0))

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        self._slept.seconds = float(getattr(self._slept, "seconds", 0.0)) + seconds
        with self._lock:
            target = self._offset + seconds
        reached = self._advance(target)
        with self._lock:
            self._offset = max(self._offset, reached)

    def __repr__(self) -> str:
        return "EmulatorClock()"
