"""What reviewers and CI read: markdown (byte for byte), the JSON document, colours, progress."""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from rich.console import Console

from reconciler.plan.model import Action, Plan, Step
from reconciler.render.progress import LineListener, LiveListener, console_for
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


class Clock:
    """The apply's clock in a test: time passes only when the test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _captured(width: int = 80, *, color: bool = False) -> tuple[io.StringIO, Console]:
    stream = io.StringIO()
    return stream, console_for(stream, color=color, width=width)


def _lines(stream: io.StringIO) -> list[str]:
    """What a terminal shows, line by line: escape sequences and carriage returns taken out."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream.getvalue())
    return [piece for line in text.split("\n") for piece in line.split("\r")]


def test_terminal_progress_shows_done_over_total_and_what_runs() -> None:
    stream, console = _captured()
    steps = [_step("azure_vault.eastus.a"), _step("azure_vault.eastus.b")]
    listener = LiveListener(len(steps), console, clock=lambda: 0.0)
    listener.step_started(steps[0])
    listener.step_started(steps[1])
    assert [line.plain for line in listener.renderable().renderables] == [
        "[0/2]", "azure_vault.eastus.a: Still creating... [0s elapsed]",
        "azure_vault.eastus.b: Still creating... [0s elapsed]"]
    listener.step_finished(steps[0], {"id": "/subscriptions/s/vaults/a"})
    assert "azure_vault.eastus.a: Creation complete after 0s [id=/subscriptions/s/vaults/a]" in _lines(stream)
    assert [line.plain for line in listener.renderable().renderables] == [
        "[1/2]", "azure_vault.eastus.b: Still creating... [0s elapsed]"]
    listener.close()


def test_the_progress_display_never_exceeds_80_columns() -> None:
    stream, console = _captured(80, color=True)
    clock = Clock()
    long = [_step(f"azure_role_assignment.westeurope.acme-platform-kafka-westeurope-{n}/"
                  "Key Vault Crypto Service Encryption User/confluent:kafka-westeurope") for n in range(3)]
    listener = LiveListener(len(long), console, clock=clock)
    for step in long:
        listener.step_started(step)
    clock.now = 12.0
    listener.tick()
    listener.step_finished(long[0], {"id": "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/"
                                           "cmk-prod/providers/Microsoft.KeyVault/vaults/acme-kafka-weu/providers/"
                                           "Microsoft.Authorization/roleAssignments/0b5f0a5e"})
    listener.step_failed(long[1], RuntimeError("boom"))
    listener.close()
    lines = _lines(stream)
    assert any("Still creating... [12s elapsed]" in line for line in lines)
    # A finished line longer than the terminal wraps at a word, inside the width.
    assert "Creation complete after 12s [id=/subscriptions/" in "".join(lines)
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)


def test_heartbeats_come_every_ten_seconds_by_the_injected_clock() -> None:
    said: list[str] = []
    clock = Clock()
    listener = LineListener(said.append, clock=clock)
    step = _step("azure_vault.eastus.a")
    listener.step_started(step)
    for now in (5.0, 10.0, 15.0, 21.0):
        clock.now = now
        listener.tick()
    listener.step_finished(step, {"id": "/subscriptions/s/vaults/a"})
    assert said == ["azure_vault.eastus.a: Creating...",
                    "azure_vault.eastus.a: Still creating... [10s elapsed]",
                    "azure_vault.eastus.a: Still creating... [20s elapsed]",
                    "azure_vault.eastus.a: Creation complete after 21s [id=/subscriptions/s/vaults/a]"]


def test_an_empty_no_color_keeps_colour_and_no_color_removes_it(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no-color.org: NO_COLOR disables colour only when set and non-empty.
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    monkeypatch.setenv("NO_COLOR", "")
    plan = ("plan", "-f", EXAMPLES / "astra-serverless-azure.yaml", "--sandbox", tmp_path / "s")
    assert "\x1b[" in cmkctl(*plan).out
    assert "\x1b[" not in cmkctl(*plan, "--no-color").out
    assert "\x1b[" not in cmkctl("--no-color", *plan).out
    assert "\x1b[" in cmkctl(*plan).out  # the flag held for its own run only


def test_a_colourless_console_writes_no_escape_for_styles() -> None:
    stream, console = _captured(color=False)
    listener = LiveListener(1, console, clock=lambda: 0.0)
    listener.step_started(_step("azure_vault.eastus.a"))
    listener.step_finished(_step("azure_vault.eastus.a"), {})
    listener.close()
    assert "\x1b[3" not in stream.getvalue() and "\x1b[1m" not in stream.getvalue()


def test_plan_is_a_value_object() -> None:
    assert not Plan(key_set="k", steps=()).has_changes
