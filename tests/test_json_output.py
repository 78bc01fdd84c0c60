"""Every JSON document cmkctl writes names its keys one way, snake_case, as the saved plan (and Terraform's
JSON) always did; and `apply --format json` writes the apply as events, one object a line."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, Result, mutating_calls
from tests.test_exit_codes import interrupt_when

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
# Subtrees whose keys are others' names, not names cmkctl gives its fields: the clouds' and the manifest's
# fields (enableRbacAuthorization), HTTP headers (user-agent), addresses, planes, and the plan's summary,
# counted by action, whose keys are the actions' own names (`no-op`, as each step's `actions` spells it).
THEIRS = {"attributes", "identity", "live", "before", "after", "manifest", "accounts", "failed", "skipped", "calls",
          "request", "summary"}


def keys(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield path, key
            if key not in THEIRS:
                yield from keys(inner, f"{path}/{key}")
    elif isinstance(value, list):
        for inner in value:
            yield from keys(inner, f"{path}[]")


def not_snake(document: Any) -> list[str]:
    return [f"{path}/{key}" for path, key in keys(document) if not SNAKE.match(key)]


def test_every_json_document_uses_snake_case_keys(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox, audit, debug = tmp_path / "sandbox", tmp_path / "audit.jsonl", tmp_path / "debug.log"
    documents: dict[str, Any] = {
        "validate": json.loads(cmkctl("validate", "-f", EXAMPLE, "--format", "json").out),
        "plan": json.loads(cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--format", "json").out),
    }
    applied = cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve", "--format", "json",
                     "--audit-log", audit, "--debug-file", debug)
    assert applied.code == 0, applied.err
    documents["apply events"] = [json.loads(line) for line in applied.out.splitlines()]
    documents["audit log"] = [json.loads(line) for line in audit.read_text().splitlines()]
    documents["debug log"] = [json.loads(line.removeprefix("cmkctl http ")) for line in debug.read_text().splitlines()
                              if line.startswith("cmkctl http ")]
    documents["check"] = json.loads(cmkctl("check", "-f", EXAMPLE, "--sandbox", sandbox, "--format", "json").out)
    documents["export"] = json.loads(cmkctl("export", "-f", EXAMPLE, "--sandbox", sandbox, "--region", "eastus",
                                            "--format", "json").out)
    watched = cmkctl("watch", "-f", EXAMPLE, "--sandbox", sandbox, "--once", "--metrics-address", "127.0.0.1:0")
    documents["watch"] = [json.loads(line) for line in watched.out.splitlines()]
    documents["error"] = json.loads(cmkctl("plan", "-f", tmp_path / "missing.yaml", "--json").err)
    assert {name: not_snake(document) for name, document in documents.items()} == {name: [] for name in documents}
    assert documents["check"]["key_set"] == "acme-astra" and "checked_at" in documents["check"]
    assert documents["export"]["not_exported"] == []
    assert documents["validate"]["key_sets"] == ["acme-astra"]
    assert "duration_seconds" in documents["watch"][-1]


def events(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.out.splitlines()]


def test_apply_as_json_is_one_event_a_line(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    result = cmkctl("apply", "-f", EXAMPLE, "--sandbox", tmp_path / "sandbox", "--auto-approve", "--format", "json")
    assert result.code == 0, result.err
    written = events(result)
    types = [e["type"] for e in written]
    assert types[:12] == ["planned_change"] * 12 and types[12] == "plan_summary"
    assert types.count("apply_start") == types.count("apply_complete") == 12
    assert types[-1] == "change_summary"
    assert all({"type", "message", "timestamp"} <= set(e) for e in written)
    vault = next(e for e in written if e["type"] == "apply_complete" and e["address"].startswith("azure_vault.east"))
    assert vault["action"] == "create" and vault["id"].endswith("/vaults/acme-astra-eastus")
    assert written[12]["message"] == "Plan: 12 to create, 0 to update, 0 unchanged, 4 irreversible."
    summary = written[-1]
    assert summary["outcome"] == "complete" and len(summary["done"]) == 12 and summary["not_started"] == []
    assert summary["message"] == "Apply complete: 12 changed, 0 failed, 0 skipped, 0 not started."


def test_apply_as_json_with_nothing_to_do_says_so(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    assert cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve").code == 0
    result = cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve", "--format", "json")
    assert result.code == 0
    [summary] = events(result)
    assert summary["type"] == "change_summary" and summary["done"] == []


def test_an_interrupted_apply_as_json_ends_with_what_was_not_started(cmkctl: Callable[..., Result], tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    interrupt_when(monkeypatch, "creating ", signal.SIGTERM)
    result = cmkctl("apply", "-f", EXAMPLE, "--sandbox", tmp_path / "sandbox", "--auto-approve", "--format", "json")
    assert result.code == 143
    summary = events(result)[-1]
    assert summary["outcome"] == "interrupted" and summary["done"] and not summary["failed"] | summary["skipped"]
    assert len(summary["done"]) + len(summary["not_started"]) == 12
    assert "azure_key.eastus.acme-astra-eastus/astra-eastus" in summary["not_started"]


def test_apply_as_json_never_prompts(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    result = cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--format", "json", terminal="yes\n")
    assert result.code == 1
    assert "apply --format json writes events, not a prompt: give --auto-approve" in result.err
    assert mutating_calls(sandbox) == []
