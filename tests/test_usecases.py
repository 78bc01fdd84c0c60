"""The use cases under the CLI serve a front end that is not click: plan, apply fresh, apply saved."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from reconciler.core.errors import CmkError, StalePlanError
from reconciler.core.lock import Holder, LocalLock
from reconciler.core.retry import Wait
from reconciler.engine.executor import SilentListener
from reconciler.manifest.loader import load_one
from reconciler.plan import document as plandoc
from reconciler.plan.model import Plan, Step
from reconciler.systems import PLUGINS
from reconciler.usecases.applying import ApplyRequest, apply
from reconciler.usecases.planning import plan_key_set, read_plan
from reconciler.usecases.session import RunOptions
from tests.conftest import EXAMPLES, mutating_calls

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"


class Progress(SilentListener):
    def __init__(self) -> None:
        self.started: list[str] = []
        self.waits: list[Wait] = []
        self.closed = False

    def step_started(self, step: Step) -> None:
        self.started.append(step.address)

    def waiting(self, wait: Wait) -> None:
        self.waits.append(wait)

    def close(self) -> None:
        self.closed = True


@dataclass
class Front:
    """A front end that approves or refuses, and remembers what it was shown."""

    approves: bool = True
    reviewed: list[Plan] = field(default_factory=list)
    progresses: list[Progress] = field(default_factory=list)

    def waiting_for_lock(self, holder: Holder) -> None:
        raise AssertionError("nobody else holds the lock")

    def review(self, plan: Plan) -> None:
        self.reviewed.append(plan)

    def approve(self, plan: Plan) -> None:
        if not self.approves:
            raise CmkError("refused")

    def progress(self, plan: Plan) -> Progress:
        self.progresses.append(Progress())
        return self.progresses[-1]


def request(sandbox: Path, **changes: object) -> ApplyRequest:
    key_set, loaded = load_one([str(EXAMPLE)], plugins=PLUGINS)
    lock = LocalLock(sandbox.parent / "locks", key_set.name)
    return ApplyRequest(key_set, loaded, RunOptions(sandbox=sandbox), lock, **changes)  # type: ignore[arg-type]


def test_a_fresh_apply_is_reviewed_approved_executed_and_then_converged(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    front = Front()
    result = apply(request(sandbox), front)
    assert result is not None and result.ok and len(result.done) == 12
    assert [p.has_changes for p in front.reviewed] == [True]
    assert len(front.progresses[0].started) == 12 and front.progresses[0].closed
    key_set, loaded = load_one([str(EXAMPLE)], plugins=PLUGINS)
    assert not plan_key_set(key_set, loaded, RunOptions(sandbox=sandbox)).has_changes
    assert apply(request(sandbox), Front()) is None


def test_a_refused_fresh_plan_changes_nothing(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    with pytest.raises(CmkError, match="refused"):
        apply(request(sandbox), Front(approves=False))
    assert mutating_calls(sandbox) == []


def test_a_saved_plan_applies_without_asking_and_a_spent_one_is_stale(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    key_set, loaded = load_one([str(EXAMPLE)], plugins=PLUGINS)
    saved_file = tmp_path / "plan.json"
    saved_file.write_text(plandoc.dumps(plan_key_set(key_set, loaded, RunOptions(sandbox=sandbox))))
    front = Front(approves=False)
    result = apply(request(sandbox, saved=read_plan(saved_file), saved_from=saved_file), front)
    assert result is not None and len(result.done) == 12 and front.reviewed == []
    with pytest.raises(StalePlanError, match="stale"):
        apply(request(sandbox, saved=read_plan(saved_file), saved_from=saved_file), front)
