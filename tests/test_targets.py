"""--target limits plan and apply to an object and what it depends on."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from reconciler.sandbox import load_state
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
