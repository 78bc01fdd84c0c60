"""Apply a plan under the key set's lock: a saved one once it is shown to be the plan made again now,
a fresh one once approved.

The front end is asked through `ApplyFront` for everything a person sees or decides; the use case
decides the order: lock, read, refuse, ask, execute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from reconciler.core.lock import Holder, Lock, held
from reconciler.core.retry import Wait
from reconciler.engine.executor import ApplyResult, Executor, Listener, Stop, require_variables
from reconciler.manifest.loader import LoadedManifests
from reconciler.manifest.model import KeySet
from reconciler.plan.model import Plan
from reconciler.usecases.planning import plan_with, refuse_forbidden, refuse_unapplicable
from reconciler.usecases.reviewing import refuse_elsewhere, refuse_unreviewed
from reconciler.usecases.session import RunOptions, handlers_for, retry_policy

if TYPE_CHECKING:
    from reconciler.providers.registry import Handlers


class Progress(Listener, Protocol):
    def waiting(self, wait: Wait) -> None:
        """A step waits for something (a grant, a principal, a service): what, and for how long."""

    def close(self) -> None: ...


class ApplyFront(Protocol):
    """What a front end does during an apply."""

    def waiting_for_lock(self, holder: Holder) -> None: ...

    def review(self, plan: Plan) -> None:
        """Show a fresh plan, before it is refused or approved."""

    def approve(self, plan: Plan) -> None:
        """Raise to stop a fresh plan with changes; return to go ahead."""

    def progress(self, plan: Plan) -> Progress: ...


@dataclass(frozen=True)
class ApplyRequest:
    key_set: KeySet
    loaded: LoadedManifests
    options: RunOptions
    lock: Lock
    lock_timeout: float = 0.0
    # A saved plan and the file it came from; without one, a fresh plan of `targets`.
    saved: Plan | None = None
    saved_from: Path | None = None
    targets: Sequence[str] = ()
    auto_approve: bool = False
    # Set by the front end on an interrupt: the steps in flight finish, none starts after it.
    stop: Stop = field(default_factory=Stop, compare=False)


def apply(request: ApplyRequest, front: ApplyFront) -> ApplyResult | None:
    """What the executor did; None when a fresh plan had nothing to change."""
    if request.saved is not None:  # before anything connects: a sandbox's plan never reaches a real cloud
        refuse_unapplicable(request.saved, request.saved_from)
        refuse_elsewhere(request.saved, request.key_set, request.options, request.saved_from)
    # Taken before the sandbox starts or anything is read: the plan itself must not interleave.
    with held(request.lock, request.key_set.name, timeout=request.lock_timeout, on_wait=front.waiting_for_lock), \
            handlers_for(request.key_set, request.options) as handlers:
        chosen = _plan_to_apply(request, handlers, front)
        if chosen is None:
            return None
        return execute(chosen, handlers, request.options, front.progress(chosen), request.stop)


def _plan_to_apply(request: ApplyRequest, handlers: Handlers, front: ApplyFront) -> Plan | None:
    saved = request.saved
    fresh = plan_with(handlers, request.key_set, request.loaded, request.options,
                      saved.targets if saved else request.targets)
    if saved is not None:  # not forbidden (refuse_unapplicable)
        refuse_unreviewed(saved, fresh, request.saved_from)
        # Equal to the saved plan in every part the executor acts on, and read just now.
        return fresh
    front.review(fresh)
    refuse_forbidden(fresh)
    if not fresh.has_changes:
        return None
    require_variables(fresh, request.options.settings.variables)  # before asking: the answer would be wasted
    if not request.auto_approve:
        front.approve(fresh)
    return fresh


def execute(plan: Plan, handlers: Handlers, options: RunOptions, progress: Progress,
            stop: Stop | None = None) -> ApplyResult:
    try:
        executor = Executor(handlers.by_kind, kinds=options.plugins.kinds, parallelism=options.parallelism,
                            environ=options.settings.variables, listener=progress,
                            retry=retry_policy(options, handlers.clock, progress.waiting), stop=stop or Stop())
        return executor.apply(plan)
    finally:  # the heartbeat stops and the terminal gets its cursor back, whatever stopped the apply
        progress.close()
