"""Watch a key set: plan and check it every interval, publish metrics, log what changed. Never applies.

One run's handlers serve every cycle (the same clients and pooled connections); each cycle
forgets what the last one listed, so it reads every object afresh, once, and the check is judged
from that same plan's reads. The loop's time comes from an injected clock, so a test runs cycles
without waiting for them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.core.errors import CmkError
from reconciler.core.wirelog import LOG
from reconciler.manifest.loader import LoadedManifests
from reconciler.manifest.model import KeySet
from reconciler.plan.health import DEFAULT_EXPIRY_WARNING_DAYS, Clock, Health, Status
from reconciler.plan.model import Action, Plan
from reconciler.usecases.checking import check_with
from reconciler.usecases.session import RunOptions, handlers_for

if TYPE_CHECKING:
    from reconciler.providers.registry import Handlers

DEFAULT_INTERVAL = 300.0
DEFAULT_JITTER = 0.1
# Where the metrics are served unless told otherwise: loopback only (README "cmkctl watch").
DEFAULT_METRICS_ADDRESS = ("127.0.0.1", 9464)


class WatchClock(Protocol):
    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True)
class WatchOptions:
    interval: float = DEFAULT_INTERVAL
    # A fraction of the interval each wait may be longer or shorter by, so many watchers spread out.
    jitter: float = DEFAULT_JITTER
    # None: until stopped; 1 for --once.
    cycles: int | None = None
    expiry_warning_days: int = DEFAULT_EXPIRY_WARNING_DAYS


class WatchMetrics:
    """The watch's gauges and counters, in a registry of their own (served, or read by a test)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.registry = CollectorRegistry()
        self.drift = Gauge("cmkctl_drift_objects", "Declared objects whose live state differs from the manifest",
                           registry=self.registry)
        self.unhealthy = Gauge("cmkctl_unhealthy_key_paths", "Key paths not healthy, by status", ["status"],
                               registry=self.registry)
        self.duration = Gauge("cmkctl_cycle_duration_seconds", "How long the last cycle took", registry=self.registry)
        self.calls = Counter("cmkctl_api_calls", "Calls to the control planes, by plane", ["plane"],
                             registry=self.registry)
        self.last_success = Gauge("cmkctl_last_success_timestamp_seconds", "When a cycle last read everything",
                                  registry=self.registry)
        self.failures = Counter("cmkctl_cycle_failures", "Cycles that could not plan", registry=self.registry)

    def record(self, cycle: Cycle) -> None:
        self.duration.set(cycle.duration)
        for plane, count in cycle.calls.items():
            self.calls.labels(plane).inc(count)
        if cycle.error:
            self.failures.inc()
            return
        self.drift.set(cycle.drift)
        for status in (Status.WARNING, Status.BROKEN):
            self.unhealthy.labels(status.label).set(cycle.unhealthy.get(status.label, 0))
        self.last_success.set(cycle.finished)


@dataclass
class Cycle:
    number: int
    started: float
    finished: float = 0.0
    drift: int = 0
    unhealthy: dict[str, int] = field(default_factory=dict)
    calls: Mapping[str, int] = field(default_factory=dict)
    error: str = ""
    # Why the cycle could not plan (error says it in words), or the health it judged: how `--once` exits.
    failure: CmkError | None = None
    status: Status | None = None
    # address -> the plan's action, consumer -> its health: what the next cycle is compared with.
    actions: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return max(0.0, self.finished - self.started)


@contextlib.contextmanager
def serving(metrics: WatchMetrics, address: tuple[str, int]) -> Iterator[tuple[str, int]]:
    """Serve the metrics over HTTP at `address` until the block ends; yields where (port 0: any free one)."""
    from prometheus_client import start_http_server

    server, thread = start_http_server(address[1], addr=address[0], registry=metrics.registry)
    try:
        host, port = server.server_address[:2]
        yield str(host), int(port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass(frozen=True)
class Watched:
    cycles: int
    last: Cycle


def watch(key_set: KeySet, loaded: LoadedManifests, options: RunOptions, watching: WatchOptions,
          metrics: WatchMetrics, log: Callable[[dict[str, Any]], None], clock: WatchClock | None = None) -> Watched:
    """Run cycles until `watching.cycles` are done (forever when None); how many ran, and the last."""
    wanted, LOG.counts_wanted = LOG.counts_wanted, True  # before the clients are built: each reports its calls
    try:
        with handlers_for(key_set, options) as handlers:
            return _cycles(handlers, key_set, loaded, options, watching, metrics, log, clock or SystemClock())
    finally:
        LOG.counts_wanted = wanted


def _cycles(handlers: Handlers, key_set: KeySet, loaded: LoadedManifests, options: RunOptions,
            watching: WatchOptions, metrics: WatchMetrics, log: Callable[[dict[str, Any]], None],
            clock: WatchClock) -> Watched:
    previous: Cycle | None = None
    number = 0
    cycle = Cycle(0, clock.time())
    while watching.cycles is None or number < watching.cycles:
        if number:
            clock.sleep(next_wait(watching))
            handlers.forget_reads()
        number += 1
        cycle = _run_cycle(number, clock, lambda now: check_with(
            handlers, key_set, loaded, options, Clock(int(now), watching.expiry_warning_days)))
        metrics.record(cycle)
        for line in changes(previous, cycle):
            log(line)
        previous = cycle if not cycle.error else previous
    return Watched(number, cycle)


def next_wait(watching: WatchOptions) -> float:
    spread = watching.interval * watching.jitter
    return max(0.0, watching.interval + random.uniform(-spread, spread))


def _run_cycle(number: int, clock: WatchClock, check: Callable[[float], Any]) -> Cycle:
    cycle = Cycle(number, clock.time())
    with LOG.counting() as calls:
        try:
            checked = check(cycle.started)
        except CmkError as error:  # a cycle that cannot plan is logged and counted; the watch goes on
            cycle.error, cycle.failure = str(error), error
        else:
            _summarise(cycle, checked.plan, checked.health)
    cycle.calls = dict(calls)
    cycle.finished = clock.time()
    return cycle


def _summarise(cycle: Cycle, plan: Plan, health: Health) -> None:
    drifted = [step for step in plan.steps if step.mutates or step.action is Action.FORBIDDEN]
    cycle.drift = len(drifted)
    cycle.status = health.status
    cycle.actions = {step.address: str(step.action) for step in drifted}
    for status in (Status.WARNING, Status.BROKEN):
        cycle.unhealthy[status.label] = health.count(status)
    cycle.statuses = {path.consumer: (path.status.label, "; ".join(f"{f.address}: {f.reason}" for f in path.findings))
                      for path in health.paths}


def changes(previous: Cycle | None, cycle: Cycle) -> list[dict[str, Any]]:
    """The JSON lines a cycle logs: what drifted or healed, whose health changed, and the cycle itself."""
    at = _iso(cycle.finished)
    if cycle.error:
        return [{"time": at, "event": "cycle-failed", "cycle": cycle.number, "error": cycle.error}]
    before_actions = previous.actions if previous else {}
    before_statuses = previous.statuses if previous else {}
    lines: list[dict[str, Any]] = []
    for address in sorted(cycle.actions.keys() | before_actions.keys()):
        now = cycle.actions.get(address, "no-op")
        if now != before_actions.get(address, "no-op"):
            lines.append({"time": at, "event": "drift", "cycle": cycle.number, "address": address, "action": now})
    for consumer, (status, reason) in sorted(cycle.statuses.items()):
        if before_statuses.get(consumer, ("healthy", ""))[0] != status:
            lines.append({"time": at, "event": "health", "cycle": cycle.number, "consumer": consumer,
                          "status": status, "reason": reason})
    lines.append({"time": at, "event": "cycle", "cycle": cycle.number, "drift": cycle.drift,
                  "unhealthy": sum(cycle.unhealthy.values()), "duration_seconds": round(cycle.duration, 3),
                  "calls": dict(sorted(cycle.calls.items()))})
    return lines


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
