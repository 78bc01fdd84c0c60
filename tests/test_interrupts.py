"""Interrupts as a person (Ctrl-C, SIGINT) and CI on cancel (SIGTERM) send them: acknowledged at once;
during an apply's steps the steps in flight finish and no more start; a second signal exits at once
saying what is left unfinished; the summary and the audit log say what was done and what was not."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cmkctl_sandbox.halt import HALT_MARKER, HALT_VARIABLE
from tests.conftest import EXAMPLES, ROOT, Result, mutating_calls
from tests.test_exit_codes import interrupt_when
from tests.test_locks import wait_for

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"
VAULT = "azure_vault.eastus.acme-astra-eastus"
CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


def audit_entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def step_results(entries: list[dict[str, Any]]) -> dict[str, str]:
    return {e["what"]["address"]: e["result"] for e in entries if e["what"].get("step")}


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_apply_finishes_the_steps_in_flight_starts_no_more_and_says_what_it_did(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sent: signal.Signals
) -> None:
    interrupted = interrupt_when(monkeypatch, "creating ", sent)
    sandbox, audit = tmp_path / "sandbox", tmp_path / "audit.jsonl"
    result = cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve", "--audit-log", audit)
    assert interrupted == [f"creating {VAULT}"]
    assert result.code == CODES[sent], result.out + result.err
    assert f"Interrupt received: finishing the 1 step in flight, starting no more\n  in flight  {VAULT}\n" in result.err
    # The step in flight was carried out; nothing started after the signal.
    assert {c["path"].rsplit("/", 1)[-1] for c in mutating_calls(sandbox)} == {"acme-astra-eastus"}
    assert "Apply interrupted: 1 changed, 0 failed, 0 skipped, 11 not started." in result.out
    assert f"  done         {VAULT}\n" in result.out
    assert "  not started  azure_key.eastus.acme-astra-eastus/astra-eastus\n" in result.out
    assert "Apply again (the same command) to carry out the rest." in result.out
    entries = audit_entries(audit)
    assert {"interrupt": sent.name} in [e["what"] for e in entries]
    results = step_results(entries)
    assert results[VAULT] == "done"
    assert results["azure_key.eastus.acme-astra-eastus/astra-eastus"] == "not started: interrupted"
    assert list(results.values()).count("not started: interrupted") == 11
    # What was not done, the next apply does.
    again = cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve")
    assert again.code == 0 and "Apply complete: 11 changed" in again.out, again.out + again.err


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_while_a_plan_reads_stops_at_once_with_the_signals_code(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sent: signal.Signals
) -> None:
    interrupted = interrupt_when(monkeypatch, "reading ", sent)
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", tmp_path / "sandbox")
    assert interrupted
    assert result.code == CODES[sent], result.err
    assert result.err.startswith("Interrupt received: stopping.\n") and "Interrupted." in result.err
    assert result.out == ""


def test_a_second_sigterm_exits_at_once_saying_what_is_left_unfinished(tmp_path: Path) -> None:
    sandbox, audit = tmp_path / "sandbox", tmp_path / "audit.jsonl"
    # The vault's create reaches the sandbox, which then never answers: a step in flight that does not end.
    process = subprocess.Popen([sys.executable, "-m", "reconciler", "apply", "-f", str(EXAMPLE), "--sandbox",
                                str(sandbox), "--auto-approve", "--audit-log", str(audit)], cwd=ROOT, text=True,
                               env={**os.environ, HALT_VARIABLE: "mutation:1"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(sandbox / HALT_MARKER, process)
        process.send_signal(signal.SIGTERM)
        assert process.stderr is not None
        first = re.fullmatch(r"Interrupt received: finishing the (\d+) steps? in flight, starting no more\n",
                             process.stderr.readline())
        assert first is not None
        in_flight = [process.stderr.readline() for _ in range(int(first[1]))]
        assert f"  in flight  {VAULT}\n" in in_flight
        process.stderr.readline()  # how to exit at once
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 143, err
    running = len(in_flight)  # nothing finished: the sandbox answers no request after the halt
    assert err.startswith(f"Second interrupt received: exiting now. Left unfinished: {running} step"), err
    assert f"in flight (carried out or not: the next apply finds out and finishes them), {12 - running} steps not " \
        "started\n" in err
    assert f"  in flight    {VAULT}\n" in err
    assert "  not started  azure_key.eastus.acme-astra-eastus/astra-eastus\n" in err
    assert "Apply" not in out  # no summary: it exited at once
    results = step_results(audit_entries(audit))
    assert results[VAULT] == "unfinished: in flight at a second interrupt"
    assert list(results.values()).count("unfinished: in flight at a second interrupt") == running
    assert list(results.values()).count("not started: interrupted") == 12 - running
    assert [e["what"]["interrupt"] for e in audit_entries(audit) if "interrupt" in e["what"]] == ["SIGTERM"] * 2
