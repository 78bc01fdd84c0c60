"""What a user's repository takes from cmkctl: the CI workflow, the pre-commit hook, the schema."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.conftest import EXAMPLES, ROOT, Result

WORKFLOW = ROOT / "manifests" / "ci" / "cmkctl.yml"
HEALTH_WORKFLOW = ROOT / "manifests" / "ci" / "cmkctl-health.yml"


def actionlint() -> str:
    found = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    assert Path(found).exists(), "actionlint is a test dependency (pyproject.toml [test])"
    return found


def test_workflow_passes_actionlint() -> None:
    done = subprocess.run([actionlint(), "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_health_workflow_passes_actionlint() -> None:
    done = subprocess.run([actionlint(), "-no-color", str(HEALTH_WORKFLOW)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_health_workflow_runs_on_a_schedule_and_tracks_one_issue_per_key_set() -> None:
    text = HEALTH_WORKFLOW.read_text()
    workflow = yaml.safe_load(text)
    assert workflow[True]["schedule"][0]["cron"]  # PyYAML reads the key `on` as True
    assert workflow["permissions"] == {"contents": "read", "id-token": "write", "issues": "write"}
    assert "secrets." not in text and "cmkctl apply" not in text
    assert "cmkctl plan -f \"cmk/${KEY_SET}\" --format markdown --detailed-exitcode" in text
    assert "cmkctl check -f \"cmk/${KEY_SET}\"" in text
    for command in ("gh issue create", "gh issue edit", "gh issue close"):
        assert command in text
    assert "<!-- cmkctl-health:${KEY_SET} -->" in text


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs-on: ${{ matrix.nothing }}", 1))
    done = subprocess.run([actionlint(), "-no-color", str(broken)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0


def test_workflow_uses_oidc_and_stores_no_secret() -> None:
    text = WORKFLOW.read_text()
    workflow = yaml.safe_load(text)
    assert workflow["permissions"]["id-token"] == "write"
    assert "secrets." not in text
    assert 'cmkctl apply "$RUNNER_TEMP/reviewed/plan.json"' in text  # downloaded outside the checkout
    assert "--format markdown" in text


def test_pre_commit_hook_runs_validate(cmkctl: Callable[..., Result]) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = hooks
    assert {"id", "name", "entry", "language"} <= set(hook)
    command = hook["entry"].split()
    assert command[0] == "cmkctl"
    assert cmkctl(*command[1:], EXAMPLES).code == 0


def test_schema_command_prints_the_manifest_schema(cmkctl: Callable[..., Result]) -> None:
    printed = json.loads(cmkctl("schema").out)
    assert printed == json.loads((ROOT / "schemas" / "manifest.v1.json").read_text())
    assert json.loads(cmkctl("schema", "--plan").out)["title"].startswith("cmkctl saved plan")


def test_examples_carry_the_schema_modeline() -> None:
    for example in EXAMPLES.glob("*.yaml"):
        assert example.read_text().startswith("# yaml-language-server: $schema=../../schemas/manifest.v1.json"), example
