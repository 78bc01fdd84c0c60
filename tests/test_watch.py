"""`cmkctl watch`: cycles of plan and check on one run's clients, metrics over loopback, never an apply."""

from __future__ import annotations

import collections
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cmkctl_sandbox.breakage import remove_role_assignments, without_role_assignments
from cmkctl_sandbox.served import open_to_clients, withdraw
from cmkctl_sandbox.state import read_calls
from reconciler.core.settings import Settings
from reconciler.manifest.loader import load_one
from reconciler.systems import PLUGINS
from reconciler.usecases.emulator import KEY_VARIABLE, sandbox_for
from reconciler.usecases.session import RunOptions
from reconciler.usecases.watching import WatchMetrics, WatchOptions, serving, watch
from tests.conftest import EXAMPLES, Result, apply_ok, mutating_calls

ASTRA = EXAMPLES / "astra-serverless-azure.yaml"
ASTRA_AWS = EXAMPLES / "astra-serverless-aws.yaml"
CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"


def scrape(where: tuple[str, int]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://{where[0]}:{where[1]}/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


class SteppedClock:
    """Time that moves only when the watch waits; each wait runs `between` (a test's edit) first."""

    def __init__(self, between: Callable[[float], None]) -> None:
        self.now = 1_900_000_000.0
        self.waits: list[float] = []
        self._between = between

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self._between(seconds)
        self.now += seconds


@pytest.fixture
def served(cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """The example applied, then served in this process so the test can edit it between cycles."""
    directory = tmp_path / "sandbox"
    apply_ok(cmkctl, ASTRA, directory)
    with sandbox_for(load_one([str(ASTRA)], plugins=PLUGINS)[0], directory, PLUGINS) as sandbox:
        _, key = open_to_clients(sandbox)
        monkeypatch.setenv(KEY_VARIABLE, str(key))  # the runs of the watch join it with its key
        try:
            yield sandbox
        finally:
            withdraw(directory)


def test_two_cycles_see_drift_introduced_between_them(served: object, tmp_path: Path) -> None:
    sandbox: object = served
    key_set, loaded = load_one([str(ASTRA)], plugins=PLUGINS)
    metrics = WatchMetrics()
    logged: list[dict[str, object]] = []
    seen: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    directory = tmp_path / "sandbox"
    seen_calls = {"start": len(read_calls(directory))}
    with serving(metrics, ("127.0.0.1", 0)) as where:

        def between(seconds: float) -> None:
            seen["first"] = scrape(where)
            seen_calls["first"] = len(read_calls(directory))
            sandbox.edit(lambda state: without_role_assignments(  # type: ignore[attr-defined]
                state, "/vaults/acme-astra-eastus", CRYPTO_SERVICE_ENCRYPTION_USER))

        clock = SteppedClock(between)
        # The settings the front end would read: the served sandbox's key is in the environment.
        options = RunOptions(tmp_path / "sandbox", settings=Settings.read(os.environ))
        ran = watch(key_set, loaded, options, WatchOptions(interval=60, jitter=0.1, cycles=2),
                    metrics, logged.append, clock)
        second = scrape(where)
    journal = read_calls(directory)
    first = seen["first"]
    assert ran.cycles == 2 and len(clock.waits) == 1 and 54 <= clock.waits[0] <= 66
    assert first[("cmkctl_drift_objects", ())] == 0
    assert first[("cmkctl_unhealthy_key_paths", (("status", "broken"),))] == 0
    assert second[("cmkctl_drift_objects", ())] == 2  # the two Astra principals' grants, to create again
    assert second[("cmkctl_unhealthy_key_paths", (("status", "broken"),))] == 1
    assert second[("cmkctl_last_success_timestamp_seconds", ())] == clock.now
    assert second[("cmkctl_cycle_duration_seconds", ())] == 0  # the injected clock did not move within a cycle
    arm = ("cmkctl_api_calls_total", (("plane", "arm"),))
    assert 0 < first[arm] < second[arm]
    events = [(line["event"], line.get("address") or line.get("consumer")) for line in logged]
    assert events[0] == ("cycle", None)
    assert ("health", "astra_registration.eastus.serverless") in events
    assert sum(1 for event, _ in events if event == "drift") == 2
    cycles = (journal[seen_calls["start"]:seen_calls["first"]], journal[seen_calls["first"]:])
    for calls in cycles:
        assert calls and not any(call["mutating"] for call in calls)
        reads = collections.Counter((c["method"], c["path"], json.dumps(c.get("query"), sort_keys=True))
                                    for c in calls)
        assert [read for read, count in reads.items() if count > 1] == []  # no object read twice in a cycle


def test_watch_once_logs_one_cycle_and_changes_nothing(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    apply_ok(cmkctl, ASTRA, sandbox)
    before = len(mutating_calls(sandbox))
    done = cmkctl("watch", "--once", "-f", ASTRA, "--sandbox", sandbox, "--metrics-address", "127.0.0.1:0")
    assert done.code == 0, done.err
    assert "Serving metrics on http://127.0.0.1:" in done.err
    (line,) = [json.loads(text) for text in done.out.splitlines()]
    assert line["event"] == "cycle" and line["drift"] == 0 and line["unhealthy"] == 0
    assert line["calls"]["arm"] > 0 and line["calls"]["astra"] > 0
    assert len(mutating_calls(sandbox)) == before


def test_watch_refuses_a_malformed_metrics_address(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    done = cmkctl("watch", "--once", "-f", ASTRA, "--sandbox", tmp_path / "sandbox", "--metrics-address", "9464")
    assert done.code == 1 and "expected HOST:PORT" in done.err


def test_watch_once_exits_as_check_does(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    apply_ok(cmkctl, ASTRA, sandbox)
    assert remove_role_assignments(sandbox, "/vaults/acme-astra-eastus", CRYPTO_SERVICE_ENCRYPTION_USER) == 2
    checked = cmkctl("check", "-f", ASTRA, "--sandbox", sandbox)
    assert checked.code == 1, checked.err
    done = cmkctl("watch", "--once", "-f", ASTRA, "--sandbox", sandbox, "--metrics-address", "127.0.0.1:0")
    assert done.code == checked.code == 1, done.err
    lines = [json.loads(text) for text in done.out.splitlines()]
    assert [line["event"] for line in lines] == ["drift", "drift", "health", "cycle"] and lines[-1]["unhealthy"] == 1


def test_watch_once_after_a_failed_cycle_exits_as_check_does(cmkctl: Callable[..., Result], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # The run's AWS credentials belong to another account than the manifest's: the cycle cannot plan.
    monkeypatch.setattr("reconciler.usecases.emulator.sandbox_aws_account", lambda key_set: "111122223333")
    sandbox = tmp_path / "sandbox"
    checked = cmkctl("check", "-f", ASTRA_AWS, "--sandbox", sandbox)
    done = cmkctl("watch", "--once", "-f", ASTRA_AWS, "--sandbox", sandbox, "--metrics-address", "127.0.0.1:0")
    assert done.code == checked.code == 3, done.err
    refusal = "refusing to act in AWS account 111122223333: the manifest names 123456789012"
    assert refusal in checked.err and refusal in done.err
    (line,) = [json.loads(text) for text in done.out.splitlines()]
    assert line["event"] == "cycle-failed" and refusal in line["error"]
