"""SIGINT (Ctrl-C) and SIGTERM (what CI sends on cancel), acknowledged the moment they arrive.

Outside an apply's steps a signal stops the command at once (exit 130 for SIGINT, 143 for SIGTERM, as
shells report them). While an apply's steps run, the first signal lets the steps in flight finish and
starts no more, so that no object is left half made by cmkctl's own choice; the apply then reports
what was done and what was not. A second signal exits at once, saying what is left unfinished: the
next apply finds out what the steps in flight did and finishes them (README "Crash safety").
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from reconciler.core import wirelog
from reconciler.engine.executor import Stop

if TYPE_CHECKING:
    from reconciler.core.retry import Wait
    from reconciler.plan.model import Plan, Step
    from reconciler.usecases.applying import Progress

# 128 + the signal's number, as shells report a command a signal ended.
EXIT_BY_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}
HANDLED = tuple(EXIT_BY_SIGNAL)


class Terminated(KeyboardInterrupt):
    """SIGTERM outside an apply's steps: the command stops as Ctrl-C stops it, and exits 143."""


def exit_code(interrupt: BaseException) -> int:
    return EXIT_BY_SIGNAL[signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT]


@dataclass
class Interrupts:
    """The signals of one command, and the apply's steps while they run.

    During the steps, the handler only records the signal and hands it to a thread of its own, which says
    what it means and, at the second, exits: a handler runs between any two bytecodes of the main thread,
    which may hold the audit log's lock or be inside a write to stderr, and a second signal may come while
    the first one's handler still runs. Handing over through a SimpleQueue, whose put is reentrant, never
    waits on a lock the interrupted code could hold.
    """

    received: signal.Signals | None = None
    stop: Stop = field(default_factory=Stop)
    steps: InFlight | None = None
    # Each signal, its apply's steps and their mark when it came; None ends the thread that says them.
    _signals: queue.SimpleQueue[tuple[signal.Signals, InFlight, int] | None] = field(default_factory=queue.SimpleQueue)
    _sent: int = 0
    _said: int = 0
    _settled: threading.Condition = field(default_factory=threading.Condition)
    _speaker: threading.Thread | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_BY_SIGNAL[self.received or signal.SIGINT]

    def handle(self, signum: int, frame: FrameType | None) -> None:
        number = signal.Signals(signum)
        steps = self.steps
        if steps is None:  # nothing is being changed: stop where the command is
            self.received = self.received or number
            _say("Interrupt received: stopping.")
            raise Terminated if number == signal.SIGTERM else KeyboardInterrupt
        if self.received is None:
            self.received = number
            self.stop.set()  # before anything else: no step starts after this line
        self._sent += 1
        self._signals.put((number, steps, steps.mark()))

    def listen(self) -> None:
        """Start the thread that says what signals mean, before the steps (a handler must not start one:
        starting a thread takes locks the interrupted main thread may hold)."""
        if self._speaker is None:
            self._speaker = threading.Thread(target=self._speak, name="cmkctl-interrupts", daemon=True)
            self._speaker.start()

    def settled(self) -> None:
        """Wait until every signal received has been said (before the apply's summary)."""
        with self._settled:
            self._settled.wait_for(lambda: self._said >= self._sent)

    def quiet(self) -> None:
        """End the thread that says what signals mean, once it has said those received."""
        if self._speaker is not None:
            self._signals.put(None)
            self._speaker.join()

    def _speak(self) -> None:
        while (signalled := self._signals.get()) is not None:
            number, steps, mark = signalled
            if self._said == 0:
                steps.finish(number, mark)
            else:
                steps.abandon(number, self.exit_code)
            with self._settled:
                self._said += 1
                self._settled.notify_all()


INTERRUPTS = Interrupts()


@contextmanager
def handled() -> Iterator[Interrupts]:
    """This command's signals go to INTERRUPTS (made anew: the tests run many commands in one process)."""
    global INTERRUPTS
    INTERRUPTS = Interrupts()
    # Only the main thread may set handlers (a caller embedding cmkctl in a thread keeps its own).
    main = threading.current_thread() is threading.main_thread()
    previous = {number: signal.signal(number, INTERRUPTS.handle) for number in HANDLED} if main else {}
    try:
        yield INTERRUPTS
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        INTERRUPTS.quiet()


def applying(plan: Plan, progress: Progress) -> InFlight:
    """`progress`, followed so that an interrupt can say which steps are in flight and which not started."""
    steps = InFlight(progress, [s for s in plan.steps if s.mutates], INTERRUPTS.stop)
    INTERRUPTS.listen()
    INTERRUPTS.steps = steps
    return steps


class InFlight:
    """The apply's progress, passed on, with which steps started and which ended."""

    def __init__(self, progress: Progress, steps: list[Step], stop: Stop) -> None:
        self._progress = progress
        self._stop = stop
        self._steps = {s.address: s for s in steps}
        self._started: list[str] = []
        # When each step ended, counted in endings: a signal's mark is the count when it came.
        self._ended: dict[str, int] = {}
        self._endings = 0
        self._lock = threading.Lock()

    def mark(self) -> int:
        """Now, for `in_flight(since=...)`: read without a lock, as a signal handler must."""
        return self._endings

    def in_flight(self, since: int | None = None) -> list[str]:
        """The steps started and not ended; with `since`, those that had not ended at that mark."""
        with self._lock:
            return [a for a in self._started if a not in self._ended or (since is not None and self._ended[a] > since)]

    def not_started(self) -> list[str]:
        with self._lock:
            return [a for a in self._steps if a not in self._started and a not in self._ended]

    def finish(self, number: signal.Signals, mark: int) -> None:
        """The first signal: the steps in flight when it came finish, none starts after them."""
        with self._stop.starting:  # a step that saw no signal has said it started
            running = self.in_flight(since=mark)
        _say(f"Interrupt received: finishing the {_steps(len(running))} in flight, starting no more"
             + "".join(f"\n  in flight  {a}" for a in running)
             + "\n(interrupt again to exit at once, leaving them unfinished)")
        wirelog.LOG.interrupt_event(signal_name=number.name,
                                    result=f"finishing the {_steps(len(running))} in flight, starting no more")

    def abandon(self, number: signal.Signals, code: int) -> None:
        """The second signal: say what is left unfinished, record it, and exit now."""
        running, waiting = self.in_flight(), self.not_started()
        _say(f"Second interrupt received: exiting now. Left unfinished: {_steps(len(running))} in flight (carried "
             f"out or not: the next apply finds out and finishes them), {_steps(len(waiting))} not started"
             + "".join(f"\n  in flight    {a}" for a in running)
             + "".join(f"\n  not started  {a}" for a in waiting))
        wirelog.LOG.interrupt_event(signal_name=number.name,
                                    result=f"exited at once: {_steps(len(running))} in flight left unfinished")
        for address, result in [*((a, "unfinished: in flight at a second interrupt") for a in running),
                                *((a, "not started: interrupted") for a in waiting)]:
            step = self._steps[address]
            wirelog.LOG.step_result(address=address, kind=step.kind, action=step.action.value, result=result)
        sys.stdout.flush()
        sys.stderr.flush()
        # The threads in flight cannot be stopped, and the interpreter would wait for them on exit.
        os._exit(code)

    def step_started(self, step: Step) -> None:
        with self._lock:
            self._started.append(step.address)
        self._progress.step_started(step)

    def step_finished(self, step: Step, outputs: Mapping[str, Any]) -> None:
        self._ended_now(step)
        self._progress.step_finished(step, outputs)

    def step_failed(self, step: Step, error: BaseException) -> None:
        self._ended_now(step)
        self._progress.step_failed(step, error)

    def step_skipped(self, step: Step, because: str) -> None:
        self._ended_now(step)
        self._progress.step_skipped(step, because)

    def waiting(self, wait: Wait) -> None:
        self._progress.waiting(wait)

    def close(self) -> None:
        INTERRUPTS.steps = None
        self._progress.close()

    def _ended_now(self, step: Step) -> None:
        with self._lock:
            self._endings += 1
            self._ended[step.address] = self._endings


def _steps(count: int) -> str:
    return f"{count} step{'' if count == 1 else 's'}"


def _say(text: str) -> None:
    click.echo(text, err=True)
    sys.stderr.flush()
