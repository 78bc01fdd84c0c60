"""Progress of an apply: a live status line on a terminal, plain lines for logs and pipes."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

import click

from reconciler.plan.model import Plan, Step

GERUNDS = {"create": "creating", "update": "updating"}
DONE = {"create": "created", "update": "updated"}


class LineListener:
    """One line per event: safe for CI logs, where a rewritten line would be noise."""

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

    def close(self) -> None:
        pass


class TerminalListener(LineListener):
    """Finished steps scroll up as lines; below them one status line says done/total and what runs."""

    def __init__(self, total: int, stream: TextIO, *, color: bool,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(self._line, clock)
        self._stream = stream
        self._color = color
        self._total = total
        self._done = 0
        self._running: list[str] = []

    def _line(self, text: str) -> None:
        if text.endswith("..."):
            return  # the status line shows what is running
        self._stream.write("\r\033[K" + text + "\n")
        self._status()

    def _status(self) -> None:
        running = ", ".join(self._running[:2]) + (f" (+{len(self._running) - 2})" if len(self._running) > 2 else "")
        status = f"[{self._done}/{self._total}] {running}"
        if self._color:
            status = click.style(status, dim=True)
        self._stream.write("\r\033[K" + status)
        self._stream.flush()

    def step_started(self, step: Step) -> None:
        with self._lock:
            self._running.append(step.address)
        super().step_started(step)
        with self._lock:
            self._status()

    def step_finished(self, step: Step) -> None:
        with self._lock:
            self._done += 1
            self._running.remove(step.address)
        super().step_finished(step)

    def step_failed(self, step: Step, error: BaseException) -> None:
        with self._lock:
            self._done += 1
            self._running.remove(step.address)
        super().step_failed(step, error)

    def close(self) -> None:
        self._stream.write("\r\033[K")
        self._stream.flush()


def listener_for(plan: Plan, *, interactive: bool, color: bool) -> LineListener:
    if interactive:
        return TerminalListener(sum(1 for s in plan.steps if s.mutates), sys.stdout, color=color)
    return LineListener(click.echo)
