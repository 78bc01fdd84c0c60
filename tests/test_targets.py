"""--target limits plan and apply to an object and what it depends on."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from cmkctl_sandbox import load_state
from tests.conftest import EXAMPLES, Result

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"


def addresses(result: Result) -> list[str]:
    return [step["address"] for step in json.loads(result.out)["steps"]]


def test_target_takes_the_object_and_its_dependencies(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", tmp_path / "s", "--format", "json",
                    "--target", "azure_key.eastus.acme-astra-eastus/astra-eastus")
    assert addresses(result) == ["azure_vault.eastus.acme-astra-eastus", "azure_key.eastus.acme-astra-eastus/astra-eastus"]
    assert json.loads(result.out)["targets"] == ["azure_key.eastus.acme-astra-eastus/astra-eastus"]


def test_a_prefix_targets_everything_below_it(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", tmp_path / "s", "--format", "json",
                    "--target", "astra_registration.westus2")
    found = addresses(result)
    assert "astra_registration.westus2.serverless" in found
    assert all(".eastus." not in a for a in found)
    assert any(a.startswith("azure_role_assignment.westus2.") for a in found)


def test_targeted_apply_changes_only_that(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "s"
    result = cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve", "--target", "azure_vault.westus2")
    assert result.code == 0, result.err
    assert list(load_state(sandbox)["arm"]["vaults"]) == ["acme-astra-westus2"]
    assert cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--detailed-exitcode").code == 2


def test_saved_plan_keeps_its_targets(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox, saved = tmp_path / "s", tmp_path / "plan.json"
    assert cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--out", saved, "--target", "azure_vault.eastus").code == 0
    assert cmkctl("apply", saved, "--sandbox", sandbox).code == 0
    assert list(load_state(sandbox)["arm"]["vaults"]) == ["acme-astra-eastus"]


def test_a_target_that_names_nothing_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", tmp_path / "s", "--target", "azure_vault.eastus.acme-astra")
    assert result.code == 1
    assert "names no object of the key set; did you mean azure_vault.eastus.acme-astra-eastus" in result.err


TARGET = "azure_vault.eastus"


def test_a_targeted_plan_warns_that_it_is_partial(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = cmkctl("plan", "-f", EXAMPLE, "--sandbox", tmp_path / "s", "--target", TARGET).out
    warnings = text.split("Warnings:\n", 1)[1]
    assert warnings.startswith(f"  - the plan is partial: --target limits it to {TARGET} and what that depends on")
    assert "(W-PARTIAL-PLAN)" in warnings
    markdown = cmkctl("plan", "-f", EXAMPLE, "--sandbox", tmp_path / "s", "--target", TARGET, "--format", "markdown")
    assert "> **Partial plan**: the plan is partial" in markdown.out


def test_the_json_plan_says_whether_it_is_complete(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    partial = json.loads(cmkctl("plan", "-f", EXAMPLE, "--sandbox", tmp_path / "s", "--format", "json",
                                "--target", TARGET).out)
    assert partial["complete"] is False
    assert [n["code"] for n in partial["notices"]][:1] == ["W-PARTIAL-PLAN"]
    whole = json.loads(cmkctl("plan", "-f", EXAMPLE, "--sandbox", tmp_path / "s", "--format", "json").out)
    assert whole["complete"] is True
    assert "W-PARTIAL-PLAN" not in [n["code"] for n in whole["notices"]]
    assert "Warnings:" not in cmkctl("plan", "-f", EXAMPLE, "--sandbox", tmp_path / "s").out


def test_a_targeted_apply_warns_too_and_its_saved_plan_stays_partial(cmkctl: Callable[..., Result],
                                                                     tmp_path: Path) -> None:
    sandbox, saved = tmp_path / "s", tmp_path / "plan.json"
    applied = cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve", "--target", TARGET)
    assert applied.code == 0 and "the plan is partial" in applied.out
    assert cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--out", saved, "--target", "azure_vault.westus2").code == 0
    assert "the plan is partial" in cmkctl("show", saved).out
    assert json.loads(saved.read_text())["complete"] is False
