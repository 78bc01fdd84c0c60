"""Exit codes the README's table gives, for the cases where the error crosses layers on its way to the CLI:
Ctrl-C inside a command (130), a run in another account than the manifest's (3)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.retry import RetryPolicy
from tests.conftest import EXAMPLES, Result, mutating_calls

ASTRA_AZURE = EXAMPLES / "astra-serverless-azure.yaml"
ASTRA_AWS = EXAMPLES / "astra-serverless-aws.yaml"


def interrupt_when(monkeypatch: pytest.MonkeyPatch, doing: str,
                   number: signal.Signals = signal.SIGINT) -> list[str]:
    """Ctrl-C, as a terminal sends it (SIGINT to the process), or the signal `number`, the first time the run starts a call
    whose description begins with `doing`; returns the calls interrupted."""
    original = RetryPolicy.call
    sent: list[str] = []
    lock = threading.Lock()

    def call(self: RetryPolicy, operation: Callable[[], Any], *, what: str, subject: str = "") -> Any:
        with lock:
            first = what.startswith(doing) and not sent
            if first:
                sent.append(what)
        if first:
            signal.raise_signal(number)  # its handler runs in the main thread
        return original(self, operation, what=what, subject=subject)

    monkeypatch.setattr(RetryPolicy, "call", call)
    return sent


def fail_when(monkeypatch: pytest.MonkeyPatch, doing: str, error: BaseException) -> None:
    """A bug: `error` raised by the first call the run starts whose description begins with `doing`."""
    original = RetryPolicy.call
    raised: list[str] = []

    def call(self: RetryPolicy, operation: Callable[[], Any], *, what: str, subject: str = "") -> Any:
        if what.startswith(doing) and not raised:
            raised.append(what)
            raise error
        return original(self, operation, what=what, subject=subject)

    monkeypatch.setattr(RetryPolicy, "call", call)


@pytest.mark.parametrize(("command", "doing"), [(("plan",), "reading "), (("check",), "reading "),
                                                (("apply", "--auto-approve"), "creating ")])
def test_a_bug_below_the_cli_reaches_the_crash_log(cmkctl: Callable[..., Result], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...],
                                                   doing: str) -> None:
    fail_when(monkeypatch, doing, KeyError("a-bug-7f3e"))
    result = cmkctl(command[0], "-f", ASTRA_AZURE, "--sandbox", tmp_path / "sandbox", *command[1:])
    assert result.code == 1, result.out + result.err
    assert "cmkctl hit a bug (KeyError); the full traceback is in " in result.err
    assert "a-bug-7f3e" not in result.err + result.out  # not turned into a message on the way up
    (log,) = tmp_path.glob("cmkctl-crash-*.log")
    assert "KeyError: 'a-bug-7f3e'" in log.read_text()


def test_ctrl_c_while_a_plan_reads_exits_130(cmkctl: Callable[..., Result], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    sent = interrupt_when(monkeypatch, "reading ")
    result = cmkctl("plan", "-f", ASTRA_AZURE, "--sandbox", tmp_path / "sandbox")
    assert sent, "no read was interrupted"
    assert result.code == 130, result.err
    assert "Interrupted." in result.err and "Aborted" not in result.err
    assert result.out == ""  # no plan is shown for a plan that did not finish


def test_ctrl_c_while_an_apply_changes_things_exits_130(cmkctl: Callable[..., Result], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    sent = interrupt_when(monkeypatch, "creating ")
    result = cmkctl("apply", "-f", ASTRA_AZURE, "--sandbox", tmp_path / "sandbox", "--auto-approve")
    assert sent, "no step was interrupted"
    assert result.code == 130, result.out + result.err
    # The steps in flight finish, then the apply stops (tests/test_interrupts.py).
    assert "in flight, starting no more" in result.err and "Apply complete" not in result.out


class _InterruptedInput:
    """stdin as Ctrl-C leaves it at a prompt: the read is interrupted."""

    def readline(self, *args: object) -> str:
        raise KeyboardInterrupt

    def isatty(self) -> bool:
        return True


def test_ctrl_c_at_the_approval_prompt_exits_130_and_changes_nothing(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", _InterruptedInput())
    sandbox = tmp_path / "sandbox"
    result = cmkctl("apply", "-f", ASTRA_AZURE, "--sandbox", sandbox)
    assert "Only 'yes' will be accepted to approve." in result.out
    assert result.code == 130, result.err
    assert "Interrupted." in result.err
    assert mutating_calls(sandbox) == []


def test_an_end_of_input_at_the_approval_prompt_is_no_interrupt(cmkctl: Callable[..., Result],
                                                                tmp_path: Path) -> None:
    # Ctrl-D at the terminal is not Ctrl-C: the apply is aborted, as before.
    sandbox = tmp_path / "sandbox"
    result = cmkctl("apply", "-f", ASTRA_AZURE, "--sandbox", sandbox, terminal="")
    assert result.code == 1, result.err
    assert "Aborted; nothing more was changed." in result.err
    assert mutating_calls(sandbox) == []


@pytest.mark.parametrize("stdin", ["", "yes\n"])
def test_apply_never_prompts_a_pipe(cmkctl: Callable[..., Result], tmp_path: Path, stdin: str) -> None:
    # CI without a terminal, as Terraform's -input=false: refused before anything is read, even a `yes` in the pipe.
    sandbox = tmp_path / "sandbox"
    result = cmkctl("apply", "-f", ASTRA_AZURE, "--sandbox", sandbox, stdin=stdin)
    assert result.code == 1, result.out + result.err
    assert ("apply asks for approval, and standard input is not a terminal to ask on; nothing was read or changed: "
            "give --auto-approve") in result.err
    assert "Enter a value" not in result.out and result.out == ""
    assert not (sandbox / "calls.jsonl").exists()  # nothing connected


@pytest.fixture
def another_aws_account(monkeypatch: pytest.MonkeyPatch) -> str:
    """The run's AWS credentials belong to another account than the manifest's (the sandbox's moto answers
    STS in it), as when AWS_PROFILE names the wrong one."""
    other = "111122223333"
    monkeypatch.setattr("reconciler.usecases.emulator.sandbox_aws_account", lambda key_set: other)
    return other


@pytest.mark.parametrize("command", [("plan",), ("apply", "--auto-approve"), ("check",)])
def test_a_run_in_another_account_than_the_manifests_exits_3(
    cmkctl: Callable[..., Result], tmp_path: Path, another_aws_account: str, command: tuple[str, ...]
) -> None:
    sandbox = tmp_path / "sandbox"
    result = cmkctl(command[0], "-f", ASTRA_AWS, "--sandbox", sandbox, *command[1:])
    assert result.code == 3, result.out + result.err
    assert (f"refusing to act in AWS account {another_aws_account}: the manifest names 123456789012 "
            "(accounts.aws.accountId)") in result.err
    assert "could not read live state" not in result.err  # the guard is not one object's failed read
    assert result.out == ""  # no plan, no table: nothing was judged in the wrong account
    assert mutating_calls(sandbox) == []
