"""A clock for tests: time moves only when someone sleeps on it, and every sleep is kept."""

from __future__ import annotations

import threading


class FakeClock:
    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()
        self._slept = threading.local()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def thread_time(self) -> float:
        """No real time passes here: a thread's time is its own sleeps."""
        return float(getattr(self._slept, "seconds", 0.0))

    def sleep(self, seconds: float) -> None:
        self._slept.seconds = self.thread_time() + max(0.0, seconds)
        with self._lock:
            self.sleeps.append(seconds)
            self.now += max(0.0, seconds)
