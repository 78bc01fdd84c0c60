"""What reviewers and CI read: markdown (byte for byte), the JSON document, colours, progress."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from reconciler.plan.model import Action, Plan, Step
from reconciler.render.progress import TerminalListener
from reconciler.render.text import render_text
from tests.conftest import EXAMPLES, ROOT, Result, write

GOLDEN = ROOT / "tests" / "golden"
# CMKCTL_UPDATE_GOLDEN=1 pytest tests/render rewrites the golden files after a deliberate change.
UPDATE = os.environ.get("CMKCTL_UPDATE_GOLDEN") == "1"


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        write(path, text)
    assert path.read_text("utf-8") == text, f"{name} differs; rerun with CMKCTL_UPDATE_GOLDEN=1 if intended"


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_markdown_of_each_example_is_golden(cmkctl: Callable[..., Result], tmp_path: Path, example: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # Set, so the plans do not depend on the runner's environment (an unset one is warned of).
    monkeypatch.setenv("CASSANDRA_ADMIN_PASSWORD", "canary-cassandra-7d1f")
    monkeypatch.setenv("MONGO_ADMIN_PASSWORD", "canary-mongo-93ab")
    sandbox = tmp_path / "sandbox"
    fresh = cmkctl("plan", "-f", EXAMPLES / example, "--sandbox", sandbox, "--format", "markdown")
    assert fresh.code == 0, fresh.err
    again = cmkctl("plan", "-f", EXAMPLES / example, "--sandbox", sandbox, "--format", "markdown")
    assert again.out == fresh.out, "the same plan must render to the same bytes"
    golden(f"{Path(example).stem}.plan.md", fresh.out)


def test_markdown_calls_out_irreversible_steps_at_the_top(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    out = cmkctl("plan", "-f", EXAMPLES / "astra-serverless-azure.yaml", "--sandbox", tmp_path / "s",
                 "--format", "markdown").out
    first_table = out.index("| | object | action |")
    assert out.index("**Irreversible** `astra_registration.eastus.serverless`") < first_table
    assert "<details><summary><code>azure_vault.eastus.acme-astra-eastus</code></summary>" in out


def test_markdown_marks_drift(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "s"
    write(sandbox / "world.yaml", """
azure:
  vaults:
    - {subscription: 22222222-2222-2222-2222-222222222222, resourceGroup: cmk-prod, name: acme-astra-eastus,
       location: eastus, enableRbacAuthorization: false, enablePurgeProtection: true}
""")
    out = cmkctl("plan", "-f", EXAMPLES / "astra-serverless-azure.yaml", "--sandbox", sandbox, "--format", "markdown").out
    assert "**Live differs from the manifest** (drift outside cmkctl, or a change of the manifest): `azure_vault.eastus.acme-astra-eastus`" in out
    assert "| `~` | `azure_vault.eastus.acme-astra-eastus` | update (drift) |" in out


def test_json_plan_validates_against_its_schema(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    schema = json.loads((ROOT / "schemas" / "plan.v1.json").read_text())
    saved = tmp_path / "plan.json"
    for example in sorted(EXAMPLES.glob("*.yaml")):
        result = cmkctl("plan", "-f", example, "--sandbox", tmp_path / example.stem, "--format", "json", "--out", saved)
        document = json.loads(result.out)
        errors = sorted(Draft202012Validator(schema).iter_errors(document), key=str)
        assert not errors, [e.message for e in errors]
        assert json.loads(saved.read_text()) == document, "--out and --format json write the same document"


def test_colour_only_when_asked(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    piped = cmkctl("plan", "-f", EXAMPLES / "astra-serverless-azure.yaml", "--sandbox", tmp_path / "s")
    assert "\x1b[" not in piped.out
    document = json.loads(cmkctl("plan", "-f", EXAMPLES / "astra-serverless-azure.yaml", "--sandbox",
                                 tmp_path / "s", "--format", "json").out)
    assert "\x1b[" in render_text(document, color=True)
    assert "\x1b[" not in render_text(document, color=False)


def test_no_color_environment_wins_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.cli import common

    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert common.color()
    monkeypatch.setenv("NO_COLOR", "1")
    assert not common.color()


def _step(address: str) -> Step:
    return Step(address=address, kind="azure_vault", region="eastus", action=Action.CREATE, identity={},
                attributes={})


def test_terminal_progress_shows_done_over_total_and_what_runs() -> None:
    stream = io.StringIO()
    steps = [_step("azure_vault.eastus.a"), _step("azure_vault.eastus.b")]
    listener = TerminalListener(len(steps), stream, color=False, clock=lambda: 0.0)
    listener.step_started(steps[0])
    listener.step_started(steps[1])
    assert stream.getvalue().endswith("[0/2] azure_vault.eastus.a, azure_vault.eastus.b")
    listener.step_finished(steps[0])
    assert "azure_vault.eastus.a: created [0.0s]\n" in stream.getvalue()
    assert stream.getvalue().endswith("[1/2] azure_vault.eastus.b")
    listener.close()


def test_plan_is_a_value_object() -> None:
    assert not Plan(key_set="k", steps=()).has_changes
