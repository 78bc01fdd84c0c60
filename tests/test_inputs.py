"""How a person names manifests: `-f PATH` on every command that reads them (validate also takes them as
arguments), `-f -` for standard input, a folder's `*.yaml` and `*.yml` files, and another tool's YAML in
a folder skipped with a note."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT, Result, mutating_calls, write

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"
PRE_COMMIT = """repos:
  - repo: local
    hooks:
      - {id: cmkctl-validate, name: cmkctl validate, entry: cmkctl validate, language: system}
"""


@pytest.mark.parametrize("arguments", [("-f", EXAMPLE), (EXAMPLE,), ("--file", EXAMPLE)])
def test_validate_takes_f_as_every_command_does_and_keeps_its_arguments(cmkctl: Callable[..., Result],
                                                                        arguments: tuple[str, ...]) -> None:
    result = cmkctl("validate", *arguments)
    assert result.code == 0, result.err
    assert "1 file(s), 1 key set(s) valid: acme-astra" in result.out


def test_validate_without_a_manifest_says_how_to_name_one(cmkctl: Callable[..., Result]) -> None:
    result = cmkctl("validate")
    assert result.code == 1
    assert "name the manifests to validate: cmkctl validate -f PATH" in result.err


@pytest.mark.parametrize("command", ["validate", "plan", "apply", "check", "watch", "export", "lock break",
                                     "sandbox serve"])
def test_every_command_that_reads_manifests_takes_f(cmkctl: Callable[..., Result], command: str) -> None:
    result = cmkctl(*command.split(), "--help")
    assert "-f, --file PATH" in result.out, result.out
    assert "or - for standard input" in result.out


def test_f_dash_reads_standard_input(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    valid = cmkctl("validate", "-f", "-", stdin=EXAMPLE.read_text())
    assert valid.code == 0, valid.err
    assert "1 file(s), 1 key set(s) valid: acme-astra" in valid.out
    sandbox = tmp_path / "sandbox"
    planned = cmkctl("plan", "-f", "-", "--sandbox", sandbox, stdin=EXAMPLE.read_text())
    assert planned.code == 0, planned.err
    assert "Plan: 12 to create" in planned.out


def test_a_manifest_on_standard_input_is_named_so_in_diagnostics(cmkctl: Callable[..., Result]) -> None:
    result = cmkctl("validate", "-f", "-", stdin=EXAMPLE.read_text().replace("size: 3072", "size: 3000", 1))
    assert result.code == 3
    assert "<stdin>:28: regions[0].keys[0].size" in result.err


def test_standard_input_is_read_once(cmkctl: Callable[..., Result]) -> None:
    result = cmkctl("validate", "-f", "-", "-f", "-", stdin=EXAMPLE.read_text())
    assert result.code == 3
    assert "standard input is read once: give -f - once" in result.err


def test_a_plan_of_standard_input_is_not_saved(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox, saved = tmp_path / "sandbox", tmp_path / "plan.json"
    result = cmkctl("plan", "-f", "-", "--sandbox", sandbox, "--out", saved, stdin=EXAMPLE.read_text())
    assert result.code == 1
    assert "cannot save the plan: its manifests came from standard input (-f -), which apply could not read again" \
        in result.err
    assert not saved.exists() and mutating_calls(sandbox) == []


def test_f_dash_reads_the_bytes_of_a_real_pipe() -> None:
    result = subprocess.run([sys.executable, "-m", "reconciler", "validate", "-f", "-"], input=EXAMPLE.read_bytes(),
                            capture_output=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert b"1 key set(s) valid: acme-astra" in result.stdout


def test_a_folder_reads_yml_files_too(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    write(tmp_path / "cmk" / "astra.yml", EXAMPLE.read_text())
    result = cmkctl("validate", "-f", tmp_path / "cmk")
    assert result.code == 0, result.err
    assert "1 file(s), 1 key set(s) valid: acme-astra" in result.out


@pytest.mark.parametrize("other", [".pre-commit-config.yaml", "docker-compose.yml"])
def test_another_tools_yaml_in_a_folder_is_skipped_with_a_note(cmkctl: Callable[..., Result], tmp_path: Path,
                                                              other: str) -> None:
    folder = tmp_path / "cmk"
    write(folder / "astra.yaml", EXAMPLE.read_text())
    write(folder / other, PRE_COMMIT)
    for command in (("validate", "-f", folder), ("plan", "-f", folder, "--sandbox", tmp_path / "sandbox")):
        result = cmkctl(*command)
        assert result.code == 0, result.err
        assert f"Note: {folder / other}: skipped, not a cmkctl manifest (no document says apiVersion: cmkctl/v1)" \
            in result.err
    assert "1 file(s), 1 key set(s) valid" in cmkctl("validate", folder).out


def test_another_tools_yaml_named_on_the_command_line_is_still_refused(cmkctl: Callable[..., Result],
                                                                       tmp_path: Path) -> None:
    named = write(tmp_path / ".pre-commit-config.yaml", PRE_COMMIT)
    result = cmkctl("validate", "-f", named)
    assert result.code == 3
    assert "E-SCHEMA" in result.err


def test_a_broken_manifest_in_a_folder_is_not_taken_for_another_tools(cmkctl: Callable[..., Result],
                                                                      tmp_path: Path) -> None:
    folder = tmp_path / "cmk"
    write(folder / "astra.yaml", EXAMPLE.read_text().replace("apiVersion: cmkctl/v1", "apiVersion: cmkctl/v9"))
    result = cmkctl("validate", "-f", folder)
    assert result.code == 3
    assert "skipped" not in result.err and "apiVersion" in result.err


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "Yes", "OFF"])
def test_yes_no_on_off_are_strings_as_the_core_schema_reads_them(cmkctl: Callable[..., Result], tmp_path: Path,
                                                                  word: str) -> None:
    # README "Hostile input": plain scalars read as the core schema reads them; only true and false are booleans.
    manifest = write(tmp_path / "astra.yaml", EXAMPLE.read_text().replace("purgeProtection: true",
                                                                          f"purgeProtection: {word}", 1))
    result = cmkctl("validate", "-f", manifest)
    assert result.code == 3, result.out
    assert (f"astra.yaml:20: regions[0].vaults[0].purgeProtection: expected boolean, got str '{word}': manifests "
            "read YAML's core schema, where only true and false are booleans [E-SCHEMA]") in result.err


@pytest.mark.parametrize("word", ["true", "True", "TRUE"])
def test_true_in_each_spelling_of_the_core_schema_is_a_boolean(cmkctl: Callable[..., Result], tmp_path: Path,
                                                                word: str) -> None:
    manifest = write(tmp_path / "astra.yaml", EXAMPLE.read_text().replace("purgeProtection: true",
                                                                          f"purgeProtection: {word}", 1))
    assert cmkctl("validate", "-f", manifest).code == 0
