"""Carry out a Plan: steps in dependency order, independent ones in parallel.

Progress goes to a listener; the executor never prints. A failed step fails only its dependents:
they are skipped and reported, everything else still runs.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.core import wirelog
from reconciler.core.errors import CmkError, ForbiddenError, GuardError, ProviderError
from reconciler.core.kinds import KindSpec
from reconciler.core.retry import RetryPolicy
from reconciler.engine import schedule
from reconciler.engine.diff import choose_action
from reconciler.engine.graph import DEFAULT_PARALLELISM
from reconciler.engine.variables import describe_unset, unset_variables
from reconciler.plan.model import Action, Plan, Step, Unknown
from reconciler.providers.base import Live, ResourceHandler


class Listener(Protocol):
    def step_started(self, step: Step) -> None: ...

    def step_finished(self, step: Step, outputs: Mapping[str, Any]) -> None:
        """`outputs`: the object as the step left it (its ID among them)."""

    def step_failed(self, step: Step, error: BaseException) -> None: ...

    def step_skipped(self, step: Step, because: str) -> None: ...


class SilentListener:
    def step_started(self, step: Step) -> None:
        pass

    def step_finished(self, step: Step, outputs: Mapping[str, Any]) -> None:
        pass

    def step_failed(self, step: Step, error: BaseException) -> None:
        pass

    def step_skipped(self, step: Step, because: str) -> None:
        pass


class Stop:
    """An interrupt's request that no step start after it.

    `starting` is held while a step decides to start and tells the listener so: whoever holds it sees
    exactly the steps in flight, none half started.
    """

    def __init__(self) -> None:
        self._requested = threading.Event()
        self.starting = threading.Lock()

    def set(self) -> None:
        self._requested.set()

    def is_set(self) -> bool:
        return self._requested.is_set()


@dataclass
class ApplyResult:
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    # Steps an interrupt kept from starting (see Executor.stop).
    not_started: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped and not self.not_started


def is_step_failure(error: BaseException) -> bool:
    """A step that failed as a step may (its plane refused it, a wait ran out): reported with the apply's
    result while the other branches go on. Another account (exit 3), a bug or Ctrl-C ends the apply."""
    return isinstance(error, CmkError) and not isinstance(error, GuardError)


@dataclass
class Executor:
    handlers: Mapping[str, ResourceHandler]
    # Each kind's spec, from the plug-ins the run was handed: a retried create adopts by it.
    kinds: Mapping[str, KindSpec] = field(kw_only=True)
    parallelism: int = DEFAULT_PARALLELISM
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    listener: Listener = field(default_factory=SilentListener)
    environ: Mapping[str, str] = field(default_factory=dict)
    # Set by an interrupt: the steps in flight finish, none starts after it.
    stop: Stop = field(default_factory=Stop)

    def apply(self, plan: Plan) -> ApplyResult:
        if plan.forbidden:
            raise ForbiddenError("the plan has forbidden steps; nothing was changed")
        require_variables(plan, self.environ)
        steps = {s.address: s for s in plan.steps}
        outputs: dict[str, Live] = {s.address: dict(s.live) for s in plan.steps if s.live}
        result = ApplyResult()
        unexpected: list[BaseException] = []
        lock = threading.Lock()

        def visit(address: str) -> None:
            step = steps[address]
            if not step.mutates:
                return
            with self.stop.starting:
                stopped = self.stop.is_set()
                if not stopped:
                    self.listener.step_started(step)
            if stopped:
                wirelog.LOG.step_result(address=address, kind=step.kind, action=step.action.value,
                                        result="not started: interrupted")
                with lock:
                    result.not_started.append(address)
                return
            with lock:
                identity, attributes = resolve(step.identity, outputs), resolve(step.attributes, outputs)
            with wirelog.step(step.address, step.kind, step.action.value):
                try:
                    live = self._carry_out(step, identity, attributes)
                except BaseException as error:
                    wirelog.LOG.step_result(address=address, kind=step.kind, action=step.action.value,
                                            result=f"failed: {error}" if isinstance(error, CmkError) else "failed")
                    raise
            wirelog.LOG.step_result(address=address, kind=step.kind, action=step.action.value, result="done")
            with lock:
                outputs[address] = live
                result.done.append(address)
            self.listener.step_finished(step, live)

        def failed(address: str, error: BaseException) -> None:
            if not is_step_failure(error):  # raised once the steps in flight are done, to the CLI's boundary
                unexpected.append(error)
                return
            result.failed[address] = str(error)
            self.listener.step_failed(steps[address], error)

        def skipped(address: str, because: str) -> None:
            if steps[address].mutates:
                wirelog.LOG.step_result(address=address, kind=steps[address].kind,
                                        action=steps[address].action.value, result=f"skipped: {because} failed")
                result.skipped[address] = because
                self.listener.step_skipped(steps[address], because)

        schedule.Scheduler[None](visit=schedule.each_alone(visit), parallelism=self.parallelism,
                                 on_failure=failed, on_skip=skipped).run({a: s.depends_on for a, s in steps.items()})
        if unexpected:
            raise unexpected[0]
        return result

    def _carry_out(self, step: Step, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live:
        handler = self.handlers[step.kind]
        if step.action is Action.CREATE:
            create = _Create(step, handler, self.kinds[step.kind], identity, attributes)
            return self.retry.call(create, what=f"creating {step.address}", subject=step.address)
        changed = {c.name: attributes[c.name] for c in step.changes}
        return self.retry.call(lambda: handler.update(identity=identity, attributes=changed, live=step.live),
                               what=f"updating {step.address}", subject=step.address)


@dataclass
class _Create:
    """One create, retried: after a transient failure the object is read again before another try.

    A dropped connection or a timeout can hide a create the plane carried out; creating again
    would then fail (409) or, where POST is not idempotent, make a duplicate. What the earlier
    attempt made is adopted instead, and brought to the declared attributes by an update.
    """

    step: Step
    handler: ResourceHandler
    spec: KindSpec
    identity: Mapping[str, Any]
    attributes: Mapping[str, Any]
    attempts: int = 0

    def __call__(self) -> Live:
        self.attempts += 1
        if self.attempts > 1:
            live = self.handler.read(identity=self.identity)
            if live is not None:
                return self._adopt(live)
        return self.handler.create(identity=self.identity, attributes=self.attributes)

    def _adopt(self, live: Live) -> Live:
        decision = choose_action(self.spec, self.attributes, live)
        if decision.action is Action.NOOP:
            return live
        if decision.action is Action.UPDATE:
            changed = {c.name: self.attributes[c.name] for c in decision.changes}
            return self.handler.update(identity=self.identity, attributes=changed, live=live)
        raise ProviderError(f"{self.step.address}: an earlier attempt left an object that cannot be brought to the "
                            f"declared state ({decision.action.value}: {decision.reason})")


def require_variables(plan: Plan, environ: Mapping[str, str]) -> None:
    """Refuse the whole apply, before its first change, when a create would miss its secret."""
    missing = unset_variables(plan.steps, environ)
    if missing:
        lines = "\n".join(f"  - {describe_unset(*needed)}" for needed in missing)
        raise CmkError(f"apply needs environment variables that are not set; nothing was changed:\n{lines}")


def resolve(value: Any, outputs: Mapping[str, Mapping[str, Any]]) -> Any:
    """Replace every Unknown by the output of the step that produced it, which has run by now."""
    if isinstance(value, Unknown):
        try:
            return outputs[value.address][value.attribute]
        except KeyError:
            raise CmkError(f"{value.address} did not report {value.attribute}") from None
    if isinstance(value, Mapping):
        return {k: resolve(v, outputs) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve(v, outputs) for v in value]
    return value
