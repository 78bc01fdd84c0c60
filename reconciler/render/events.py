"""An apply as events, one JSON object a line (`apply --format json`), as `terraform apply -json` writes
its machine-readable UI: each line has `type`, `message` (the line a person would read) and `timestamp`,
and the fields of its type. Keys are snake_case, as in every JSON document cmkctl writes.

| type | when | fields |
|---|---|---|
| planned_change | each step to carry out, before the first starts | address, kind, region, action, irreversible |
| plan_summary | after them | create, update, unchanged, irreversible (as the plan's summary) |
| apply_start | a step starts | address, action |
| apply_complete | a step is done | address, action, id, elapsed_seconds |
| apply_errored | a step failed | address, action, error |
| apply_skipped | a step was not run: what it depends on failed | address, because |
| apply_waiting | a step waits (a grant, a principal, a service) | message |
| change_summary | the apply ended | outcome, done, failed, skipped, not_started |
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from reconciler.core.printable import json_visible
from reconciler.core.retry import Wait
from reconciler.plan.model import Plan, Step
from reconciler.render.progress import DONE, GERUNDS, WaitReporter, _seconds, object_id

Echo = Callable[[str], None]


def emit(echo: Echo, event: str, message: str, **fields: Any) -> None:
    line = {"type": event, "message": message, "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            **fields}
    echo(json_visible(json.dumps(line, ensure_ascii=False)))


def planned(echo: Echo, plan: Plan) -> None:
    """The steps an apply will carry out, then the plan's counts."""
    for step in plan.steps:
        if step.mutates:
            emit(echo, "planned_change", f"{step.address}: plan to {step.action.value}", address=step.address,
                 kind=step.kind, region=step.region, action=step.action.value, irreversible=step.irreversible)
    count = {action: sum(1 for s in plan.steps if s.action.value == action) for action in ("create", "update", "no-op")}
    irreversible = sum(1 for s in plan.steps if s.irreversible and s.mutates)
    emit(echo, "plan_summary", f"Plan: {count['create']} to create, {count['update']} to update, {count['no-op']} "
                               f"unchanged, {irreversible} irreversible.",
         create=count["create"], update=count["update"], unchanged=count["no-op"], irreversible=irreversible)


def finished(echo: Echo, outcome: str, done: list[str], failed: Mapping[str, str], skipped: Mapping[str, str],
             not_started: list[str]) -> None:
    emit(echo, "change_summary", f"Apply {outcome}: {len(done)} changed, {len(failed)} failed, {len(skipped)} "
                                 f"skipped, {len(not_started)} not started.",
         outcome=outcome, done=done, failed=dict(failed), skipped=dict(skipped), not_started=not_started)


class EventListener:
    """An apply's progress as events (see the table above)."""

    def __init__(self, echo: Echo, clock: Callable[[], float] = time.monotonic) -> None:
        self._echo = echo
        self._clock = clock
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()
        self._waits = WaitReporter(lambda line: self._emit("apply_waiting", line))

    def step_started(self, step: Step) -> None:
        with self._lock:
            self._started[step.address] = self._clock()
        self._emit("apply_start", f"{step.address}: {GERUNDS.get(step.action.value, step.action.value).capitalize()}"
                                  "...", address=step.address, action=step.action.value)

    def step_finished(self, step: Step, outputs: Mapping[str, Any]) -> None:
        elapsed = self._elapsed(step.address)
        made = object_id(outputs)
        self._emit("apply_complete", f"{step.address}: {DONE.get(step.action.value, 'Complete')} after "
                                     f"{_seconds(elapsed)}" + (f" [id={made}]" if made else ""),
                   address=step.address, action=step.action.value, id=made or None,
                   elapsed_seconds=round(elapsed, 3))

    def step_failed(self, step: Step, error: BaseException) -> None:
        self._elapsed(step.address)
        self._emit("apply_errored", f"{step.address}: FAILED", address=step.address, action=step.action.value,
                   error=str(error))

    def step_skipped(self, step: Step, because: str) -> None:
        self._emit("apply_skipped", f"{step.address}: skipped ({because} failed)", address=step.address,
                   because=because)

    def waiting(self, wait: Wait) -> None:
        self._waits(wait)

    def close(self) -> None:
        pass

    def _elapsed(self, address: str) -> float:
        with self._lock:
            started = self._started.pop(address, self._clock())
        return self._clock() - started

    def _emit(self, event: str, message: str, **fields: Any) -> None:
        emit(self._echo, event, message, **fields)
