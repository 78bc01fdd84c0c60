"""Progress of an apply, as Terraform words it: "Creating...", "Still creating... [10s elapsed]",
"Creation complete after 12s [id=...]".

On a terminal a live display (rich) keeps the running steps below the finished ones, each cut to
the terminal's width; for logs and pipes the same events are plain lines. Heartbeats come from
`tick()`, which a ticker thread calls once a second on a terminal or in a log, against an
injected clock in the tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import click
from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from reconciler.core.printable import visible
from reconciler.core.retry import Wait
from reconciler.plan.model import Plan, Step

HEARTBEAT_SECONDS = 10
GERUNDS = {"create": "creating", "update": "modifying"}
DONE = {"create": "Creation complete", "update": "Modifications complete"}
# Outputs that name what a step made, in the order a reader looks for them.
ID_OUTPUTS = ("id", "arn", "objectId", "keyUri")


def _seconds(elapsed: float) -> str:
    whole = int(elapsed)
    return f"{whole // 60}m{whole % 60}s" if whole >= 60 else f"{whole}s"


def object_id(outputs: Mapping[str, Any]) -> str:
    return next((str(outputs[name]) for name in ID_OUTPUTS if outputs.get(name)), "")


class WaitReporter:
    """Says what a read or a step waits for, and for how long, as the run's retry policy reports it:
    `ADDRESS: waiting for the grant on vault V to reach Key Vault: 2m10s of up to 10m`.

    A wait for a principal or a grant is said from its first retry; a wait for a service to answer
    again (throttling, a 5xx) only once it has lasted HEARTBEAT_SECONDS. Then one line per
    HEARTBEAT_SECONDS of waiting, for each thing waited for.
    """

    def __init__(self, echo: Callable[[str], None]) -> None:
        self._echo = echo
        self._said: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def __call__(self, wait: Wait) -> None:
        if wait.kind == "transient" and wait.elapsed < HEARTBEAT_SECONDS:
            return
        beat = int(wait.elapsed // HEARTBEAT_SECONDS)
        with self._lock:
            key = (wait.subject, wait.awaiting)
            if key in self._said and beat <= self._said[key]:
                return
            self._said[key] = beat
        self._echo(f"{wait.subject}: {wait.describe()}")


class LineListener:
    """One line per event: safe for CI logs, where a rewritten line would be noise."""

    def __init__(self, echo: Callable[[str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self._echo = echo
        self._clock = clock
        self._waits = WaitReporter(self._say_from_outside)
        self._started: dict[str, tuple[Step, float]] = {}
        self._beats: dict[str, int] = {}
        self._lock = threading.Lock()

    def step_started(self, step: Step) -> None:
        with self._lock:
            self._started[step.address] = (step, self._clock())
            self._beats[step.address] = 0
            self._said(f"{step.address}: {GERUNDS.get(step.action.value, step.action.value).capitalize()}...")

    def step_finished(self, step: Step, outputs: Mapping[str, Any]) -> None:
        with self._lock:
            elapsed = self._elapsed(step.address)
            made = object_id(outputs)
            self._said(f"{step.address}: {DONE.get(step.action.value, 'Complete')} after {_seconds(elapsed)}"
                       + (f" [id={made}]" if made else ""))

    def step_failed(self, step: Step, error: BaseException) -> None:
        with self._lock:
            self._elapsed(step.address)
            self._said(f"{step.address}: FAILED")

    def step_skipped(self, step: Step, because: str) -> None:
        with self._lock:
            self._said(f"{step.address}: skipped ({because} failed)")

    def waiting(self, wait: Wait) -> None:
        self._waits(wait)

    def _say_from_outside(self, line: str) -> None:
        """A line from a step's own thread (a wait), not from a listener call that holds the lock."""
        with self._lock:
            self._said(line)

    def tick(self) -> None:
        """Says of each step running for another HEARTBEAT_SECONDS that it still runs."""
        with self._lock:
            now = self._clock()
            for address, (step, started) in list(self._started.items()):
                beats = int(now - started) // HEARTBEAT_SECONDS
                if beats > self._beats[address]:
                    self._beats[address] = beats
                    self._heartbeat(step, beats * HEARTBEAT_SECONDS)  # "[20s elapsed]", as Terraform counts
            self._refresh()

    def close(self) -> None:
        pass

    def _elapsed(self, address: str) -> float:
        _, started = self._started.pop(address, (None, self._clock()))
        self._beats.pop(address, None)
        return self._clock() - started

    def _said(self, line: str) -> None:
        self._echo(visible(line))  # an ID a cloud answered is printed, never acted on by the terminal
        self._refresh()

    def _heartbeat(self, step: Step, elapsed: float) -> None:
        self._echo(still_running(step, elapsed))

    def _refresh(self) -> None:
        pass


def still_running(step: Step, elapsed: float, width: int | None = None) -> str:
    """The heartbeat line; given a width, the address gives way (cut in its middle) so that the
    heartbeat itself always shows."""
    suffix = f": Still {GERUNDS.get(step.action.value, 'running')}... [{_seconds(elapsed)} elapsed]"
    address = step.address
    if width is not None and len(address) + len(suffix) > width:
        room = max(width - len(suffix) - 1, 2)
        address = address[:room - room // 2] + "…" + address[len(address) - room // 2:]
    return address + suffix


class LiveListener(LineListener):
    """Finished steps scroll up as lines; below them a live display says done/total and, one line
    each, what runs and for how long, every line cut to the console's width."""

    def __init__(self, total: int, console: Console, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(self._print, clock)
        self._console = console
        self._total = total
        self._done = 0
        self._live = Live(console=console, auto_refresh=False, transient=True, redirect_stdout=False,
                          redirect_stderr=False, get_renderable=self.renderable)
        self._live.start()

    def _print(self, line: str) -> None:
        if not line.endswith("..."):  # the live display shows what is running
            self._console.print(Text(line, style=_style(line)))

    def _heartbeat(self, step: Step, elapsed: float) -> None:
        pass  # the live display counts the seconds itself

    def step_finished(self, step: Step, outputs: Mapping[str, Any]) -> None:
        with self._lock:
            self._done += 1
        super().step_finished(step, outputs)

    def step_failed(self, step: Step, error: BaseException) -> None:
        with self._lock:
            self._done += 1
        super().step_failed(step, error)

    def renderable(self) -> Group:
        now = self._clock()
        lines = [Text(f"[{self._done}/{self._total}]", style="bold")]
        width = self._console.width
        lines += [Text(still_running(step, now - started, width), style="dim")
                  for step, started in self._started.values()]
        for line in lines:
            line.no_wrap, line.overflow = True, "ellipsis"
        return Group(*lines)

    def _refresh(self) -> None:
        self._live.refresh()

    def close(self) -> None:
        self._live.stop()


def _style(line: str) -> str:
    return "red" if line.endswith("FAILED") else "yellow" if "skipped" in line or ": waiting for " in line else "green"


class Ticker:
    """Calls `tick` once a second until closed: the heartbeats of a real apply."""

    def __init__(self, listener: LineListener, interval: float = 1.0) -> None:
        self._listener = listener
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), name="cmkctl-heartbeat", daemon=True)
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._listener.tick()

    def step_started(self, step: Step) -> None:
        self._listener.step_started(step)

    def step_finished(self, step: Step, outputs: Mapping[str, Any]) -> None:
        self._listener.step_finished(step, outputs)

    def step_failed(self, step: Step, error: BaseException) -> None:
        self._listener.step_failed(step, error)

    def step_skipped(self, step: Step, because: str) -> None:
        self._listener.step_skipped(step, because)

    def waiting(self, wait: Wait) -> None:
        self._listener.waiting(wait)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._listener.close()


def console_for(stream: TextIO, *, color: bool, width: int | None = None) -> Console:
    """A terminal console: colour only when chosen (NO_COLOR and --no-color are decided by the caller)."""
    return Console(file=stream, force_terminal=True, color_system="auto" if color else None, no_color=not color,
                   width=width, highlight=False)


def listener_for(plan: Plan, *, interactive: bool, color: bool, stream: TextIO) -> Ticker:
    if interactive:
        total = sum(1 for s in plan.steps if s.mutates)
        return Ticker(LiveListener(total, console_for(stream, color=color)))
    return Ticker(LineListener(click.echo))
