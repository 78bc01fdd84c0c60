"""Machine-readable everywhere: validate, export and sandbox show as JSON, and errors as one JSON object."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import EXAMPLES, Result, write

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"
BROKEN = """apiVersion: cmkctl/v1
kind: KeySet
metadata: {name: broken}
accounts:
  azure: {tenantId: 11111111-1111-1111-1111-111111111111, subscriptionId: 22222222-2222-2222-2222-222222222222}
regions:
  - name: eastus
    cloud: azure
    keys:
      - {name: k1, vault: missing-kv, type: RSA, size: 3072}
"""


def test_validate_as_json_lists_the_files_and_key_sets(cmkctl: Callable[..., Result]) -> None:
    result = cmkctl("validate", EXAMPLE, "--format", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {"valid": True, "files": [str(EXAMPLE)], "key_sets": ["acme-astra"],
                                      "diagnostics": []}


def test_validate_as_json_gives_each_diagnostic_its_rule_file_line_and_address(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    broken = write(tmp_path / "broken.yaml", BROKEN)
    result = cmkctl("validate", broken, "--format", "json")
    assert result.code == 3
    document = json.loads(result.out)
    assert document["valid"] is False
    [diagnostic] = document["diagnostics"]
    assert diagnostic["severity"] == "error" and diagnostic["rule"] == "E-REFERENCE"
    assert (diagnostic["file"], diagnostic["line"]) == (str(broken), 10)
    assert diagnostic["address"] == "regions[0].keys[0].vault"
    assert "missing-kv" in diagnostic["message"]


def test_json_errors_are_one_object_on_stderr(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.yaml", BROKEN)
    result = cmkctl("--json", "plan", "-f", broken)
    assert result.code == 3 and result.out == ""
    report = json.loads(result.err)
    assert report["code"] == 3
    assert "1 problem in the manifests" in report["message"]
    assert [(d["rule"], d["line"]) for d in report["diagnostics"]] == [("E-REFERENCE", 10)]


def test_json_errors_after_the_command_say_what_went_wrong_without_diagnostics(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    result = cmkctl("show", tmp_path / "no-plan.json", "--json")
    assert result.code == 1
    report = json.loads(result.err)
    assert report["code"] == 1 and report["diagnostics"] == [] and "no-plan.json" in report["message"]


def test_usage_errors_come_as_json_too(cmkctl: Callable[..., Result]) -> None:
    result = cmkctl("--json", "plan")
    assert result.code == 1
    assert "-f" in json.loads(result.err)["message"]


def test_sandbox_show_as_json_is_the_state_with_secrets_redacted(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "s"
    assert cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve").code == 0
    result = cmkctl("sandbox", "show", sandbox, "--format", "json")
    assert result.code == 0, result.err
    state = json.loads(result.out)
    assert {v["resource"]["name"] for v in state["arm"]["vaults"].values()} == {"acme-astra-eastus",
                                                                                 "acme-astra-westus2"}
    assert "serverless" in state["astra"]["keys"]
