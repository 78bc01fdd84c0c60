"""A new grant is not at once usable: the emulator refuses its first uses as each service does (a failed
operation, Confluent's INVALID), cmkctl waits it out, within a budget of time (README, "Retries and waits"), on the run's clock, saying what it waits for."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from cmkctl_sandbox.faults import FaultConfigError, parse_config
from cmkctl_sandbox.state import read_calls
from reconciler.core.errors import (
    KeyAccessPendingError,
    PrincipalPendingError,
    ProviderError,
    TransientError,
    is_key_access_refusal,
)
from reconciler.core.retry import RetryPolicy, Wait, WaitBudgets, format_duration, parse_budget
from tests.conftest import EXAMPLES, Result, write
from tests.fakeclock import FakeClock

ALL_SYSTEMS = EXAMPLES / "all-systems.yaml"
MONGO = EXAMPLES / "mongo-vcore.yaml"
MONGO_CREATE = "mongo_cluster.eastus.orders-mongo"


def cluster_writes(sandbox: Path) -> list[dict[str, object]]:
    return [c for c in read_calls(sandbox) if c["method"] in ("PUT", "PATCH") and "/mongoClusters/" in str(c["path"])]


@pytest.fixture
def real_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every real sleep asked for (none may be: a run against the emulator waits on its clock)."""
    asked: list[float] = []
    monkeypatch.setattr(time, "sleep", asked.append)
    monkeypatch.setenv("CASSANDRA_ADMIN_PASSWORD", "canary-cassandra-7d1f")
    monkeypatch.setenv("MONGO_ADMIN_PASSWORD", "canary-mongo-93ab")
    return asked


def failed_operations(sandbox: Path) -> dict[str, int]:
    """The long-running operations that ended Failed with KeyVaultAccessForbidden, by the resource
    type they were on."""
    operations = json.loads((sandbox / "state.json").read_text())["arm"].get("operations", {})
    return dict(Counter(record["target"][-2] if record["target"][-2] == "dataCenters" else record["target"][1]
                        for record in operations.values()
                        if record["status"] == "Failed" and record["error"]["code"] == "KeyVaultAccessForbidden"))


def emulator_offset(sandbox: Path) -> float:
    offset: float = json.loads((sandbox / "state.json").read_text()).get("clock", {}).get("offsetSeconds", 0)
    return offset


def test_grant_lag_is_waited_out(cmkctl: Callable[..., Result], tmp_path: Path, real_sleeps: list[float]) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "faults.yaml", "grantLag: {attempts: 2}\n")
    applied = cmkctl("apply", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    # Each consumer was refused twice, as it refuses: Mongo's cluster and Cassandra's data center in their
    # operation, which ended Failed with KeyVaultAccessForbidden; Confluent by validating its key INVALID,
    # so that the cluster waited for VALID and was never refused. Nothing answered 403.
    failed = failed_operations(sandbox)
    assert failed == {"mongoClusters": 2, "dataCenters": 2}, failed
    calls = read_calls(sandbox)
    assert not [c for c in calls if c["status"] == 403]
    phases = [c["responseBody"]["validation"]["phase"] for c in calls if c["path"].startswith("/byok/v1/keys/cck-")]
    assert [p for p in phases if p != "INITIALIZING"] == ["INVALID", "INVALID", "VALID"], phases
    assert [c["status"] for c in calls if c["path"] == "/cmk/v2/clusters" and c["method"] == "POST"] == [202]
    # The waits moved the emulator's clock on, not the wall clock.
    assert emulator_offset(sandbox) > 0 and not [s for s in real_sleeps if s > 0]
    assert ": waiting for the grant on vault " in applied.out

    after = cmkctl("plan", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--detailed-exitcode")
    assert after.code == 0, after.out + after.err
    assert "No changes." in after.out


def test_a_grant_that_never_propagates_fails_after_its_budget_with_one_line(
        cmkctl: Callable[..., Result], tmp_path: Path, real_sleeps: list[float]) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "faults.yaml", "grantLag: {seconds: 1000000000}\n")  # never, in the emulator's time
    started = time.monotonic()
    applied = cmkctl("apply", "-f", MONGO, "--sandbox", sandbox, "--auto-approve")
    assert time.monotonic() - started < 120  # ten minutes of waiting took no ten minutes
    assert applied.code == 1, applied.out + applied.err
    failed = [line for line in applied.err.splitlines() if MONGO_CREATE in line and "gave up" in line]
    assert len(failed) == 1, applied.err
    assert re.search(f"creating {MONGO_CREATE}: gave up waiting for the grant on vault acme-mongo-eastus to reach "
                     r"Key Vault \(Mongo vCore\) after 10m(\d+s)? \(the grant budget is 10m; --wait grant=DURATION "
                     r"changes it\)\. Last answer: ", failed[0]), failed[0]
    # The service's last answer: the cluster's operation ended Failed with its code and message.
    assert "the operation failed: KeyVaultAccessForbidden: The key vault 'acme-mongo-eastus' refused" in failed[0]
    # While it waited, the progress said what for and how long.
    assert (f"{MONGO_CREATE}: waiting for the grant on vault acme-mongo-eastus to reach Key Vault (Mongo vCore): "
            in applied.out)
    assert " of up to 10m" in applied.out
    # Ten minutes of the emulator's time (less the few real seconds the run took), no real sleep; the SDK's
    # poller waits on its own thread, so the polls of each try (some 30 s until the operation ends Failed)
    # move the emulator's time on besides.
    tries = len(cluster_writes(sandbox))
    assert 590 <= emulator_offset(sandbox) < 700 + 60 * tries and not [s for s in real_sleeps if s > 0]


def test_the_wait_flag_changes_the_budget(cmkctl: Callable[..., Result], tmp_path: Path,
                                          real_sleeps: list[float]) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "faults.yaml", "grantLag: {seconds: 1000000000}\n")
    applied = cmkctl("apply", "-f", MONGO, "--sandbox", sandbox, "--auto-approve", "--wait", "grant=15m",
                     "--wait", "principal=1h")
    assert applied.code == 1, applied.out + applied.err
    assert re.search(r"after 15m(\d+s)? \(the grant budget is 15m;", applied.err), applied.err
    assert " of up to 15m" in applied.out
    assert 890 <= emulator_offset(sandbox) < 1000 + 60 * len(cluster_writes(sandbox))


@pytest.mark.parametrize(("given", "said"), [
    ("grant=abc", "a duration is hours, minutes and seconds, as 90s, 15m, 1h or 1h30m"),
    ("patience=10m", "KIND one of transient, principal, grant"),
    ("grant", "expected KIND=DURATION"),
    ("grant=0s", "more than 0s and at most 24h"),
    ("grant=48h", "more than 0s and at most 24h"),
])
def test_the_wait_flag_refuses_what_it_cannot_read(cmkctl: Callable[..., Result], tmp_path: Path, given: str,
                                                    said: str) -> None:
    refused = cmkctl("plan", "-f", MONGO, "--sandbox", tmp_path / "sb", "--wait", given)
    assert refused.code == 1 and said in refused.err and "--wait" in refused.err, refused.err  # a usage error
    assert not (tmp_path / "sb" / "state.json").exists()  # refused as the command line was read


def test_budgets_read_as_the_flag_writes_them() -> None:
    assert parse_budget("grant=15m") == ("grant", 900.0)
    assert parse_budget("principal=1h30m") == ("principal", 5400.0)
    assert parse_budget("transient=90s") == ("transient", 90.0)
    assert [format_duration(s) for s in (45, 130, 600, 5400, 0)] == ["45s", "2m10s", "10m", "1h30m", "0s"]


def test_grant_lag_configuration() -> None:
    assert parse_config({"grantLag": {"attempts": 3}}).grant_lag == 3
    assert parse_config({"grantLag": {"seconds": 90}}).grant_lag_seconds == 90
    assert parse_config({}).grant_lag == 0
    assert parse_config({"grantLag": {"attempts": 3}}).active and parse_config({"grantLag": {"seconds": 1}}).active
    with pytest.raises(FaultConfigError, match="grantLag"):
        parse_config({"grantLag": {"tries": 3}})


def test_key_access_refusals_are_told_apart_from_missing_roles() -> None:
    assert is_key_access_refusal(403, "KeyVaultAccessForbidden", "")
    assert is_key_access_refusal(403, "Forbidden", "The key vault 'kv1' is not accessible (yet)")
    # The caller's own missing role is not a propagating grant of a service.
    assert not is_key_access_refusal(403, "AuthorizationFailed", "The client does not have authorization")
    assert not is_key_access_refusal(400, "KeyVaultAccessForbidden", "")


def refused_until(clock: FakeClock, seconds: float) -> Callable[[], str]:
    def use() -> str:
        if clock.now < seconds:
            raise KeyAccessPendingError("create Mongo cluster m1: HTTP 403 KeyVaultAccessForbidden: not accessible",
                                        plane="arm", code="KeyVaultAccessForbidden", status=403,
                                        awaiting="the grant on vault kv1 to reach Key Vault")
        return "created"

    return use


def test_budgets_are_time_not_attempts() -> None:
    # A grant that takes eight minutes: more than ten attempts' worth of backoff, well within its 10m budget.
    clock = FakeClock()
    waits: list[Wait] = []
    policy = RetryPolicy(clock=clock, on_wait=waits.append)
    assert policy.call(refused_until(clock, 480), what="creating mongo_cluster.m1") == "created"
    assert 480 <= clock.now < 480 + policy.max_delay
    assert len(clock.sleeps) > 10
    assert {w.kind for w in waits} == {"grant"} and waits[-1].budget == 600
    assert waits[-1].describe().startswith("waiting for the grant on vault kv1 to reach Key Vault: ")
    assert waits[-1].describe().endswith(" of up to 10m")


def test_a_missing_grant_gives_up_at_its_budget_with_the_last_answer() -> None:
    clock = FakeClock()
    policy = RetryPolicy(clock=clock)
    with pytest.raises(ProviderError) as raised:
        policy.call(refused_until(clock, float("inf")), what="creating mongo_cluster.m1")
    message = str(raised.value)
    assert message.startswith("creating mongo_cluster.m1: gave up waiting for the grant on vault kv1 to reach Key "
                              "Vault after 10m (the grant budget is 10m; --wait grant=DURATION changes it). ")
    assert message.endswith("Last answer: create Mongo cluster m1: HTTP 403 KeyVaultAccessForbidden: not accessible")
    assert "\n" not in message and not isinstance(raised.value, TransientError)
    assert clock.now == pytest.approx(600)  # the last try lands on the budget's end, not past it


def test_each_kind_of_wait_has_its_own_budget() -> None:
    clock = FakeClock()
    policy = RetryPolicy(clock=clock, budgets=WaitBudgets(transient=60, principal=1800, grant=600))

    def throttled() -> None:
        raise TransientError("HTTP 503", plane="arm", status=503)

    with pytest.raises(ProviderError, match="gave up waiting for Azure Resource Manager to answer after 1m"):
        policy.call(throttled, what="creating vault kv1")
    assert clock.now == pytest.approx(60)

    clock.now = 0.0

    def invisible() -> None:
        raise PrincipalPendingError("PrincipalNotFound", plane="arm", awaiting="principal p1 to reach Azure RBAC")

    with pytest.raises(ProviderError, match="gave up waiting for principal p1 to reach Azure RBAC after 30m"):
        policy.call(invisible, what="creating role assignment")
    assert clock.now == pytest.approx(1800)  # sums of jittered sleeps round in the last bit


def test_retry_after_is_honoured_and_waited_on_the_clock() -> None:
    clock = FakeClock()
    answers = iter([TransientError("429", plane="astra", status=429, retry_after=42.0)])

    def once_throttled() -> str:
        for error in answers:
            raise error
        return "ok"

    assert RetryPolicy(clock=clock).call(once_throttled, what="listing") == "ok"
    assert clock.sleeps == [42.0]


class SharedClock(FakeClock):
    """A clock other waits move on too, as the emulator's is: each sleep here finds it a minute further on."""

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += 60  # another thread's sleep
        super().sleep(seconds)


def test_a_wait_is_not_spent_by_other_waits_on_a_shared_clock() -> None:
    clock = SharedClock()
    waits: list[Wait] = []
    tries: list[float] = []

    def throttled() -> None:
        tries.append(clock.now)
        raise TransientError("HTTP 503", plane="aws", status=503)

    policy = RetryPolicy(clock=clock, budgets=WaitBudgets(transient=300), on_wait=waits.append)
    with pytest.raises(ProviderError, match="gave up waiting for AWS to answer after 5m"):
        policy.call(throttled, what="creating key k1")
    # As many tries as five minutes give in real time: its own waits fill the budget, not the others'.
    assert 300 - 1 < sum(w.delay for w in waits) <= 300 + 1e-6  # (a jittered sum may round a last bit past)
    assert len(tries) > 10


def test_a_tries_own_polls_count_against_its_wait() -> None:
    """A try that polls a long-running operation before it fails spends the wait's budget while it polls:
    the budget is how long the wait lasted, on the system clock as on the emulator's."""
    clock = SharedClock()
    waits: list[Wait] = []

    def polled_then_refused() -> None:
        clock.sleep(30)  # the SDK's poller, on the run's clock, until the operation ends Failed
        raise TransientError("the operation failed: KeyVaultAccessForbidden", plane="arm", status=200)

    policy = RetryPolicy(clock=clock, budgets=WaitBudgets(transient=300), on_wait=waits.append)
    with pytest.raises(ProviderError, match="after 5m"):
        policy.call(polled_then_refused, what="updating cluster c1")
    # Its tries' polls and its sleeps between them make up the five minutes (the last try's poll after).
    lasted = 30 * len(waits) + sum(w.delay for w in waits)
    assert 299 < lasted < 331  # (sums of jittered sleeps round in the last bit)
