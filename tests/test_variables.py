"""Create-time secrets named by environment variable: the plan warns when one is unset, and apply
refuses before its first change (it used to create the vault, irreversibly, and fail at the cluster)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.engine.executor import require_variables
from reconciler.engine.variables import unset_variables
from reconciler.plan.model import Action, Plan, Step
from tests.conftest import EXAMPLES, Result, mutating_calls

MONGO = EXAMPLES / "mongo-vcore.yaml"
CASSANDRA = EXAMPLES / "cassandra-managed-instance.yaml"
MONGO_CLUSTER = "mongo_cluster.eastus.orders-mongo"
CASSANDRA_CLUSTER = "cassandra_cluster.eastus.acme-cassandra"


@pytest.fixture(autouse=True)
def no_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONGO_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("CASSANDRA_ADMIN_PASSWORD", raising=False)


def test_a_plan_warns_of_a_variable_its_apply_will_need(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    result = cmkctl("plan", "-f", MONGO, "--sandbox", tmp_path / "sandbox")
    assert result.code == 0, result.err
    assert (f"{MONGO_CLUSTER}: the environment variable MONGO_ADMIN_PASSWORD (administratorPassword) is not set"
            in result.out)
    assert "(W-VARIABLE-UNSET)" in result.out
    document = json.loads(cmkctl("plan", "-f", MONGO, "--sandbox", tmp_path / "sandbox", "--format", "json").out)
    assert [n["code"] for n in document["notices"]] == ["W-VARIABLE-UNSET"]


def test_a_plan_with_the_variable_set_does_not_warn(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONGO_ADMIN_PASSWORD", "canary-mongo-5b1c")
    result = cmkctl("plan", "-f", MONGO, "--sandbox", tmp_path / "sandbox")
    assert "W-VARIABLE-UNSET" not in result.out


@pytest.mark.parametrize(("manifest", "cluster", "variable", "attribute"), [
    (MONGO, MONGO_CLUSTER, "MONGO_ADMIN_PASSWORD", "administratorPassword"),
    (CASSANDRA, CASSANDRA_CLUSTER, "CASSANDRA_ADMIN_PASSWORD", "initialAdminPasswordFrom"),
])
def test_apply_refuses_before_its_first_change(cmkctl: Callable[..., Result], tmp_path: Path, manifest: Path,
                                               cluster: str, variable: str, attribute: str) -> None:
    sandbox = tmp_path / "sandbox"
    result = cmkctl("apply", "-f", manifest, "--sandbox", sandbox, "--auto-approve")
    assert result.code == 1, result.out + result.err
    assert f"{cluster}: the environment variable {variable} ({attribute}) is not set" in result.err
    assert "nothing was changed" in result.err
    assert mutating_calls(sandbox) == []


def test_a_saved_plan_is_checked_at_apply_too(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, saved = tmp_path / "sandbox", tmp_path / "plan.json"
    monkeypatch.setenv("MONGO_ADMIN_PASSWORD", "canary-mongo-5b1c")
    assert cmkctl("plan", "-f", MONGO, "--sandbox", sandbox, "--out", saved).code == 0
    monkeypatch.delenv("MONGO_ADMIN_PASSWORD")
    result = cmkctl("apply", saved, "--sandbox", sandbox)
    assert result.code == 1
    assert "MONGO_ADMIN_PASSWORD (administratorPassword) is not set" in result.err
    assert mutating_calls(sandbox) == []


def _step(action: Action) -> Step:
    return Step(address="mongo_cluster.eastus.x", kind="mongo_cluster", region="eastus", action=action,
                identity={}, attributes={"administratorPassword": {"env": "PW", "sensitive": True}})


def test_only_a_create_reads_its_variable() -> None:
    plan = Plan(key_set="k", steps=(_step(Action.NOOP), _step(Action.UPDATE)))
    assert unset_variables(plan.steps, {}) == []
    require_variables(plan, {})
    assert [v for _, _, v in unset_variables((_step(Action.CREATE),), {"PW": ""})] == ["PW"]
