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
    # The steps the executor had started when the signal came (the vault's, and perhaps others beside it).
    acknowledged = re.search(r"Interrupt received: finishing the (\d+) steps? in flight, starting no more\n"
                             r"((?:  in flight  \S+\n)+)", result.err)
    assert acknowledged is not None, result.err
    running = int(acknowledged[1])
    in_flight = [line.removeprefix("  in flight  ") for line in acknowledged[2].splitlines()]
    assert len(in_flight) == running and VAULT in in_flight
    # Each step in flight was carried out; nothing started after the signal (no key, grant or registration).
    assert not [c for c in mutating_calls(sandbox) if re.search(r"/keys/|roleAssignments|/v2/kms", c["path"])]
    assert (f"Apply interrupted: {running} changed, 0 failed, 0 skipped, {12 - running} not started."
            in result.out)
    for address in in_flight:
        assert f"  done         {address}\n" in result.out
    assert "  not started  azure_key.eastus.acme-astra-eastus/astra-eastus\n" in result.out
    assert "Apply again (the same command) to carry out the rest." in result.out
    entries = audit_entries(audit)
    assert {"interrupt": sent.name} in [e["what"] for e in entries]
    results = step_results(entries)
    assert {a for a, r in results.items() if r == "done"} == set(in_flight)
    assert results["azure_key.eastus.acme-astra-eastus/astra-eastus"] == "not started: interrupted"
    assert list(results.values()).count("not started: interrupted") == 12 - running
    # What was not done, the next apply does.
    again = cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve")
    assert again.code == 0 and f"Apply complete: {12 - running} changed" in again.out, again.out + again.err


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
    said = re.match(r"Second interrupt received: exiting now\. Left unfinished: (\d+) steps? in flight \(carried out "
                    r"or not: the next apply finds out and finishes them\), (\d+) steps? not started\n", err)
    assert said is not None, err
    still = [line.removeprefix("  in flight    ") for line in err.splitlines() if line.startswith("  in flight    ")]
    waiting = [line.removeprefix("  not started  ") for line in err.splitlines() if line.startswith("  not started  ")]
    assert (len(still), len(waiting)) == (int(said[1]), int(said[2]))
    # Steps in flight at the first signal may have ended since (an answer already on its way), none started.
    assert VAULT in still and set(still) <= {line.removeprefix("  in flight  ").strip() for line in in_flight}
    assert "azure_key.eastus.acme-astra-eastus/astra-eastus" in waiting
    assert "Apply" not in out  # no summary: it exited at once
    results = step_results(audit_entries(audit))
    done = {a for a, r in results.items() if r == "done"}
    assert {a for a, r in results.items() if r == "unfinished: in flight at a second interrupt"} == set(still)
    assert {a for a, r in results.items() if r == "not started: interrupted"} == set(waiting)
    assert len(done | set(still) | set(waiting)) == len(done) + len(still) + len(waiting) == 12
    assert [e["what"]["interrupt"] for e in audit_entries(audit) if "interrupt" in e["what"]] == ["SIGTERM"] * 2
