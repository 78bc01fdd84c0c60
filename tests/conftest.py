"""Shared helpers: run the real CLI entry point in-process and capture what a user would see."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cmkctl_sandbox.dispatcher import VERIFY_READS_VARIABLE
from cmkctl_sandbox.state import EXCHANGES_VARIABLE
from reconciler.cli import main
from tests.contracts import conformance

# Every sandbox of the suite (in-process or served) checks that reads which say they changed
# nothing changed nothing: the sandbox saves its state only after writes and such reads.
os.environ[VERIFY_READS_VARIABLE] = "1"
# ... and journals each exchange whole, for the conformance harness (tests/contracts/).
os.environ[EXCHANGES_VARIABLE] = "1"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "nonconforming(reason): the test sends, on purpose, calls the published "
                                       "definitions forbid; the conformance harness does not check its sandboxes")
    config.addinivalue_line("markers", "lags(**seconds): the lags of the emulator's time (cmkctl_sandbox/realism.py) "
                                       "the `sandbox` fixture turns on; every other lag is off")


@pytest.fixture(autouse=True)
def conforms(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
    """Every exchange with every sandbox a test ran (under its tmp_path) is held to the published definitions."""
    yield
    if request.node.get_closest_marker("nonconforming") is None:
        conformance.assert_conforms(tmp_path)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    conformance.report(terminalreporter)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "manifests" / "examples"


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cmkctl(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
           tmp_path: Path) -> Callable[..., Result]:
    # Crash logs of a test run stay in its own folder.
    monkeypatch.setenv("CMKCTL_LOG_DIR", str(tmp_path))

    def run(*args: str | Path, stdin: str | None = None, terminal: str | None = None) -> Result:
        """`stdin`: what a pipe holds; `terminal`: what a person types at a terminal."""
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        if terminal is not None:
            monkeypatch.setattr("sys.stdin", TerminalInput(terminal))
        capsys.readouterr()
        try:
            main([str(a) for a in args])
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        else:
            code = 0
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


class TerminalInput(io.StringIO):
    """Standard input as a terminal gives it: what a person types."""

    def isatty(self) -> bool:
        return True


def mutating_calls(sandbox: Path) -> list[dict[str, Any]]:
    """The calls the sandbox journalled that could have changed something."""
    from cmkctl_sandbox.state import read_calls

    return [c for c in read_calls(sandbox) if c["mutating"]]


def apply_ok(cmkctl: Callable[..., Result], manifest: Path, sandbox: Path) -> Result:
    result = cmkctl("apply", "-f", manifest, "--sandbox", sandbox, "--auto-approve")
    assert result.code == 0, result.out + result.err
    return result


def plan_apply_plan(cmkctl: Callable[..., Result], manifest: Path, sandbox: Path) -> tuple[Result, Result]:
    """Plan (changes pending, nothing touched), apply, plan again (no changes); the first plan and the apply."""
    before = cmkctl("plan", "-f", manifest, "--sandbox", sandbox, "--detailed-exitcode")
    assert before.code == 2, before.out + before.err
    assert mutating_calls(sandbox) == []
    applied = apply_ok(cmkctl, manifest, sandbox)
    after = cmkctl("plan", "-f", manifest, "--sandbox", sandbox, "--detailed-exitcode")
    assert after.code == 0, after.out + after.err
    assert "No changes. Live state matches the manifests." in after.out
    return before, applied


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, "utf-8")
    return path


def lines(text: str) -> Sequence[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]
