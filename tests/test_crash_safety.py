"""An apply killed (SIGKILL) right after each mutating call of all-systems.yaml in turn is finished by
the next apply: exactly the declared objects, one of each (and, at every third kill point, an empty
plan after it; the other tests keep that plan empty without kills)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cmkctl_sandbox.census import census, declared, discrepancies
from cmkctl_sandbox.faults import FAULTS_VARIABLE
from cmkctl_sandbox.halt import HALT_MARKER, HALT_VARIABLE
from cmkctl_sandbox.state import read_calls
from cmkctl_sandbox.world import load_state
from tests.conftest import EXAMPLES, ROOT

ALL_SYSTEMS = EXAMPLES / "all-systems.yaml"
# The apply's mutating calls are counted, then each is a kill point: the retries the emulator's lags
# call for (refusals while a principal or a grant propagates) would make their number vary between runs.
ENV = {**os.environ, "CASSANDRA_ADMIN_PASSWORD": "canary-cassandra-7d1f", "MONGO_ADMIN_PASSWORD": "canary-mongo-93ab",
       FAULTS_VARIABLE: "realism: off"}


def cmkctl(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reconciler", *map(str, args)], env=env or ENV, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def killed_at(sandbox: Path, nth: int) -> bool:
    """Runs apply until the world halts after its nth mutating call, then SIGKILLs it.

    False when the apply finished before making that many calls."""
    env = {**ENV, HALT_VARIABLE: f"mutation:{nth}", "CMKCTL_LOG_DIR": str(sandbox.parent)}
    process = subprocess.Popen([sys.executable, "-m", "reconciler", "apply", "-f", str(ALL_SYSTEMS), "--sandbox",
                                str(sandbox), "--auto-approve"], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while not (sandbox / HALT_MARKER).exists():
            if process.poll() is not None:
                return False
            assert time.monotonic() < deadline, f"apply never reached mutating call {nth}"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    return True


def kill_and_finish(tmp_path: Path, nth: int, expected: Counter[str]) -> list[str]:
    sandbox = tmp_path / f"kill-{nth}" / "sandbox"
    sandbox.parent.mkdir()
    if not killed_at(sandbox, nth):
        # Waits in the emulator's time (a new principal's replication lag) make the number of calls
        # vary a little from run to run: an apply that finished before its nth call must have converged.
        ended = census(load_state(sandbox))
        return [f"call {nth}: the apply ended before it: {d}" for d in discrepancies(expected, ended)]
    halted = (sandbox / HALT_MARKER).read_text().strip()
    (sandbox / HALT_MARKER).unlink()
    rerun = cmkctl("apply", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--auto-approve")
    problems = [f"killed after {halted}: re-apply exited {rerun.returncode}: {rerun.stderr[-2000:]}"] \
        if rerun.returncode else []
    found = census(load_state(sandbox))
    problems += [f"killed after {halted}: {d}" for d in discrepancies(expected, found)]
    if nth % 3:
        return problems  # a plan costs a process start; every third kill point proves convergence too
    after = cmkctl("plan", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--detailed-exitcode")
    if after.returncode != 0:
        problems.append(f"killed after {halted}: the plan after the re-apply is not empty:\n{after.stdout[-3000:]}")
    return problems


def test_an_apply_killed_after_any_mutating_call_is_finished_without_duplicate_or_orphan(tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    assert cmkctl("apply", "-f", ALL_SYSTEMS, "--sandbox", clean, "--auto-approve").returncode == 0
    mutations = sum(1 for c in read_calls(clean) if c["mutating"])
    converged = cmkctl("plan", "-f", ALL_SYSTEMS, "--sandbox", clean, "--format", "json")
    expected = declared(json.loads(converged.stdout))
    assert census(load_state(clean)) == expected
    assert mutations >= sum(expected.values())  # every object took at least one call

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(lambda n: kill_and_finish(tmp_path, n, expected), range(1, mutations + 1)))
    problems = [p for found in results for p in found]
    assert not problems, "\n".join(problems)
