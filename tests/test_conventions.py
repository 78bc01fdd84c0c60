"""What a person expects of a command-line tool: examples in every command's help, shell completion, a
`version` command, `--debug` (and CMKCTL_DEBUG) wherever cmkctl talks to a cloud, `--json` after any
command's name, subcommands included."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest

from reconciler.cli import cli
from tests.conftest import EXAMPLES, ROOT, Result

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"
README = (ROOT / "README.md").read_text("utf-8")


def commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


ALL = sorted(" ".join(path) for path, _ in commands())
TALKS_TO_A_CLOUD = ["plan", "apply", "check", "watch", "export", "lock break"]


def _command(path: list[str]) -> tuple[click.Command, list[str]]:
    command: click.Command = cli
    while isinstance(command, click.Group) and path and path[0] in command.commands:
        command = command.commands[path.pop(0)]
    return command, path


@pytest.mark.parametrize("name", ALL)
def test_every_commands_help_has_examples_that_name_its_own_options(cmkctl: Callable[..., Result], name: str) -> None:
    shown = cmkctl(*name.split(), "--help")
    assert shown.code == 0
    assert "\n  Examples:\n" in shown.out, shown.out
    examples = [line.strip() for line in shown.out.split("\n  Examples:\n", 1)[1].split("\n\n", 1)[0].splitlines()]
    assert examples
    for example in examples:
        line = example.split(" #", 1)[0].strip().split(" | ")[-1].split(" > ")[0]
        words = shlex.split(line.removeprefix("eval \"$(").removesuffix(")\""))
        assert words[0] == "cmkctl", example
        command, rest = _command(words[1:])
        assert isinstance(_command(name.split())[0], click.Group) or command.name == name.split()[-1], example
        known = {option for param in command.params for option in param.opts}
        assert all(word in known for word in rest if word.startswith("-") and word != "-"), example


def test_version_prints_the_pinned_api_versions_the_readme_lists(cmkctl: Callable[..., Result]) -> None:
    shown = cmkctl("version")
    assert shown.code == 0
    assert shown.out.startswith("cmkctl 0.")
    table = README.split("| Azure API | api-version |", 1)[1].split("\n\n", 1)[0]
    pinned = re.findall(r"\| (\d{4}-\d{2}-\d{2}) \|", table)
    assert len(pinned) == 5
    for api_version in pinned:
        assert f"  {api_version}\n" in shown.out
    assert re.search(r"azure\.keyvault\.keys .*  7\.5\n", shown.out)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_a_script_for_each_shell(cmkctl: Callable[..., Result], shell: str) -> None:
    shown = cmkctl("completion", shell)
    assert shown.code == 0
    assert f"_CMKCTL_COMPLETE={shell}_complete" in shown.out


def test_the_completion_script_completes_commands_and_options() -> None:
    def complete(words: str) -> str:
        environ = {**os.environ, "_CMKCTL_COMPLETE": "bash_complete", "COMP_WORDS": words,
                   "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
        return subprocess.run([sys.executable, "-m", "reconciler"], env=environ, capture_output=True, text=True,
                              cwd=ROOT, timeout=60).stdout

    assert "plain,plan" in complete("cmkctl pl")
    assert "plain,--detailed-exitcode" in complete("cmkctl plan --det")
    assert "plain,rotate-key" in complete("cmkctl sandbox rot")


@pytest.mark.parametrize("name", TALKS_TO_A_CLOUD)
def test_debug_on_every_command_that_talks_to_a_cloud(cmkctl: Callable[..., Result], name: str) -> None:
    shown = cmkctl(*name.split(), "--help")
    assert "--debug" in shown.out and "CMKCTL_DEBUG" in shown.out and "--debug-file" in shown.out


@pytest.mark.parametrize("command", [("check",), ("export", "--region", "eastus")])
def test_cmkctl_debug_in_the_environment_logs_every_exchange(cmkctl: Callable[..., Result], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             command: tuple[str, ...]) -> None:
    sandbox = tmp_path / "sandbox"
    quiet = cmkctl(command[0], "-f", EXAMPLE, "--sandbox", sandbox, *command[1:])
    assert "cmkctl http " not in quiet.err
    monkeypatch.setenv("CMKCTL_DEBUG", "1")
    logged = cmkctl(command[0], "-f", EXAMPLE, "--sandbox", sandbox, *command[1:])
    assert logged.code == quiet.code, logged.err
    exchanges = [json.loads(line.removeprefix("cmkctl http ")) for line in logged.err.splitlines()
                 if line.startswith("cmkctl http ")]
    assert {e["plane"] for e in exchanges} >= {"arm", "astra"}


def test_debug_file_from_the_environment(cmkctl: Callable[..., Result], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "debug.log"
    monkeypatch.setenv("CMKCTL_DEBUG_FILE", str(log))
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", tmp_path / "sandbox")
    assert result.code == 0 and "cmkctl http " not in result.err
    assert log.read_text().startswith("cmkctl http ")


@pytest.mark.parametrize("name", [n for n in ALL if " " in n])
def test_json_is_taken_after_every_subcommand(cmkctl: Callable[..., Result], name: str) -> None:
    assert "--json" in cmkctl(*name.split(), "--help").out


def test_json_after_a_sandbox_subcommand_prints_its_error_as_json(cmkctl: Callable[..., Result],
                                                                  tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cmkctl("sandbox", "show", empty, "--json")
    assert result.code == 1
    report = json.loads(result.err)
    assert report["code"] == 1 and "holds no sandbox" in report["message"]
