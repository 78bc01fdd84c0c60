"""With 20% transient faults on every plane, all-systems.yaml converges, and nobody waits for real."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from cmkctl_sandbox.state import read_calls
from tests.conftest import EXAMPLES, Result, write

ALL_SYSTEMS = EXAMPLES / "all-systems.yaml"
FAULTS = """\
seed: 20
all:
  transient: 0.2           # 429 (Retry-After: 0), 500/503, drops before and after the write, 504 timeouts
  timeout: {rate: 0.04, ms: 0}
  lro: {polls: 2}          # every long-running operation answers "still running" twice more
replicationLag: {seconds: 20}   # new principals invisible to RBAC for 20 s of the emulator's time
"""


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[float]]:
    """Every wait, by where it was waited: on the emulator's clock (the run's), or really (none may be)."""
    from cmkctl_sandbox.clock import EmulatorClock

    asked: dict[str, list[float]] = {"emulator": [], "other": []}
    slept = EmulatorClock.sleep

    def on_the_emulators_clock(self: EmulatorClock, seconds: float) -> None:
        asked["emulator"].append(seconds)
        slept(self, seconds)

    monkeypatch.setattr(EmulatorClock, "sleep", on_the_emulators_clock)
    monkeypatch.setattr(time, "sleep", asked["other"].append)
    monkeypatch.setenv("CASSANDRA_ADMIN_PASSWORD", "canary-cassandra-7d1f")
    monkeypatch.setenv("MONGO_ADMIN_PASSWORD", "canary-mongo-93ab")
    return asked


def test_twenty_percent_faults_converge(cmkctl: Callable[..., Result], tmp_path: Path,
                                        waits: dict[str, list[float]]) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "faults.yaml", FAULTS)
    applied = cmkctl("apply", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert "45 changed, 0 failed, 0 skipped." in applied.out
    faults = Counter(c["fault"] for c in read_calls(sandbox) if c.get("fault"))
    assert set(faults) >= {"throttle", "server_error", "drop", "drop_after_write", "timeout", "lro"}, faults
    assert sum(faults.values()) >= 25
    # cmkctl backed off, and azure-core polled, on the emulator's clock: nothing waited for real.
    assert waits["emulator"] and all(seconds == 0 for seconds in waits["other"]), waits["other"]
    # The LROs' polls, every 30 s (the SDKs' interval: ARM's operations send no Retry-After), waited on that clock.
    assert waits["emulator"].count(30) >= 10

    after = cmkctl("plan", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--detailed-exitcode")
    assert after.code == 0, after.out + after.err
    assert "No changes." in after.out


def test_faults_change_nothing_but_what_the_plane_did(cmkctl: Callable[..., Result], tmp_path: Path,
                                                      waits: dict[str, list[float]]) -> None:
    """Every injected reply is in calls.jsonl; only drop_after_write requests reached a plane."""
    sandbox = tmp_path / "sandbox"
    write(sandbox / "faults.yaml", FAULTS)
    assert cmkctl("apply", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--auto-approve").code == 0
    calls = read_calls(sandbox)
    dropped = [c for c in calls if c.get("fault") == "drop"]
    assert dropped and all(c["status"] == 0 for c in dropped)
    # A request dropped after the write shows what the plane answered before the connection closed.
    assert all(c["mutating"] for c in calls if c.get("fault") == "drop_after_write")
    answered = [c for c in calls if c.get("fault") in ("throttle", "server_error", "timeout")]
    assert {c["status"] for c in answered} <= {429, 400, 500, 503, 504}
