"""Files a user names that are not what they seem: devices, pipes, FIFOs, huge or hostile saved plans.

cmkctl runs as a child process here, under a memory limit and a timeout: the cmkctl before these
fixes read `/dev/zero` until memory ran out and waited for ever on a FIFO.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.secrets import Secret
from reconciler.plan import signing
from reconciler.plan.document import digest
from tests.conftest import EXAMPLES, ROOT, Result, mutating_calls, write

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"
MEMORY = 1024 * 1024 * 1024
SIGNING_KEY = "plan-signing-key-of-the-pipeline"


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run(args: Sequence[str | Path], tmp_path: Path, **extra: Any) -> Result:
    """cmkctl as a process of its own, with 1 GB of memory and 60 s at most."""
    env = {**os.environ, "CMKCTL_LOG_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "reconciler", *map(str, args)], capture_output=True, text=True,
                          timeout=60, preexec_fn=limited, env=env, cwd=tmp_path, **extra)
    return Result(done.returncode, done.stdout, done.stderr)


def refused(result: Result, code: int, *words: str) -> None:
    assert result.code == code, (result.code, result.out, result.err)
    assert "hit a bug" not in result.err and "Traceback" not in result.err, result.err
    for word in words:
        assert word in result.err, result.err


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    return path


def test_validate_refuses_devices_fifos_and_pipes_without_reading_them(tmp_path: Path, fifo: Path) -> None:
    refused(run(["validate", "/dev/zero"], tmp_path), 3, "/dev/zero: it is a character device, not a regular file",
            "[E-READ]")
    refused(run(["validate", fifo], tmp_path), 3, "pipe.yaml: it is a pipe (FIFO), not a regular file")
    refused(run(["plan", "-f", fifo], tmp_path), 3, "it is a pipe (FIFO), not a regular file")
    # `cmkctl validate <(yes)`: the shell passes /dev/fd/N, a pipe whose writer never stops.
    yes = subprocess.Popen(["yes"], stdout=subprocess.PIPE)
    try:
        assert yes.stdout is not None
        descriptor = yes.stdout.fileno()
        result = run(["validate", f"/dev/fd/{descriptor}"], tmp_path, pass_fds=(descriptor,))
    finally:
        yes.kill()
        yes.wait()
    refused(result, 3, f"/dev/fd/{descriptor}: it is a pipe (FIFO), not a regular file")


def test_a_folder_holding_a_fifo_or_a_device_named_yaml_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "cmk"
    folder.mkdir()
    os.mkfifo(folder / "a.yaml")
    (folder / "b.yaml").symlink_to("/dev/zero")
    result = run(["validate", folder], tmp_path)
    refused(result, 3, "a.yaml: it is a pipe (FIFO)", "b.yaml: it is a character device")


def test_show_and_apply_refuse_a_device_or_a_fifo_as_a_plan(tmp_path: Path, fifo: Path) -> None:
    for plan in ("/dev/zero", fifo):
        refused(run(["show", plan], tmp_path), 1, "cannot read the plan: it is a")
        refused(run(["apply", plan, "--sandbox", tmp_path / "sandbox"], tmp_path), 1, "not a regular file")


def test_a_saved_plan_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "plan.json"
    with open(huge, "wb") as handle:
        handle.truncate(65 * 1024 * 1024)  # sparse
    refused(run(["show", huge], tmp_path), 1, "it is 68157440 bytes; saved plans are limited to 67108864 bytes")


def saved(cmkctl: Callable[..., Result], tmp_path: Path) -> tuple[Path, Path]:
    sandbox, plan = tmp_path / "sandbox", tmp_path / "plan.json"
    made = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--out", plan)
    assert made.code == 0, made.err
    return sandbox, plan


def test_a_plan_nested_200000_levels_is_refused_by_show_and_apply(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    sandbox, plan = saved(cmkctl, tmp_path)
    deep = write(tmp_path / "deep.json", '{"format_version": "2.0", "x": ' + "[" * 200_000 + "]" * 200_000 + "}")
    for command in (("show", deep), ("apply", deep, "--sandbox", sandbox)):
        refused(cmkctl(*command), 1, "not a cmkctl plan: nested more than 64 levels deep")
    # Deep inside a step, with every digest recomputed: refused before anything reads it.
    document = json.loads(plan.read_text())
    value: Any = "x"
    for _ in range(100):
        value = {"v": value}
    document["steps"][0]["attributes"]["deep"] = value
    document["digest"] = digest(document)
    refused(cmkctl("show", write(tmp_path / "deep2.json", json.dumps(document))), 1, "nested more than 64 levels")
    assert mutating_calls(sandbox) == []


def test_a_plan_with_a_duplicated_key_is_refused_even_when_signed(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CMKCTL_PLAN_SIGNING_KEY", SIGNING_KEY)
    sandbox, plan = saved(cmkctl, tmp_path)
    document = json.loads(plan.read_text())
    # A reader of the file sees the first "steps" (nothing to do); json keeps the last one, which the
    # digest and the signature are made over.
    text = json.dumps(document, indent=2)
    twice = '{\n  "steps": [],' + text[1:]
    assert json.loads(twice) == document and signing.signature(json.loads(twice), Secret(SIGNING_KEY))
    forged = write(tmp_path / "forged.json", twice)
    for command in (("show", forged), ("apply", forged, "--sandbox", sandbox)):
        refused(cmkctl(*command), 1, "the key 'steps' appears twice in one object of the plan; a saved plan never "
                "repeats a key")
    assert mutating_calls(sandbox) == []
    nested = write(tmp_path / "nested.json", text.replace('"kind": ', '"kind": "x", "kind": ', 1))
    refused(cmkctl("show", nested), 1, "the key 'kind' appears twice")


def test_a_plan_shaped_otherwise_than_its_schema_is_refused_with_where(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    _, plan = saved(cmkctl, tmp_path)
    document = json.loads(plan.read_text())
    read = next(s for s in document["steps"] if s["actions"] == ["read"])
    read["live"] = ["not", "an", "object"]
    document["digest"] = digest(document)
    refused(cmkctl("show", write(tmp_path / "odd.json", json.dumps(document))), 1,
            "not a cmkctl plan: at 'steps/0/live', ['not', 'an', 'object'] is not of type 'object'")
