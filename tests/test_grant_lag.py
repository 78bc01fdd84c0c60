"""A new grant is not at once usable: the sandbox refuses its first uses with 403, cmkctl waits it out."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cmkctl_sandbox.faults import FaultConfigError, parse_config
from cmkctl_sandbox.state import read_calls
from reconciler.core.errors import KeyAccessPendingError, ProviderError, TransientError, is_key_access_refusal
from reconciler.core.retry import RetryPolicy
from tests.conftest import EXAMPLES, Result, write

ALL_SYSTEMS = EXAMPLES / "all-systems.yaml"
CONSUMERS = ("/mongoClusters/", "/dataCenters/", "/cmk/v2/clusters")


@pytest.fixture
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr("reconciler.core.retry.sleep", waits.append)
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    monkeypatch.setenv("CASSANDRA_ADMIN_PASSWORD", "canary-cassandra-7d1f")
    monkeypatch.setenv("MONGO_ADMIN_PASSWORD", "canary-mongo-93ab")
    return waits


def test_grant_lag_is_waited_out(cmkctl: Callable[..., Result], tmp_path: Path, no_waiting: list[float]) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "faults.yaml", "grantLag: {attempts: 2}\n")
    applied = cmkctl("apply", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    refused = [c for c in read_calls(sandbox) if c["status"] == 403]
    # Each consumer (Mongo cluster, Cassandra data center, Confluent cluster) was refused twice.
    for consumer in CONSUMERS:
        assert len([c for c in refused if consumer in c["path"]]) == 2, (consumer, refused)
    assert no_waiting

    after = cmkctl("plan", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--detailed-exitcode")
    assert after.code == 0, after.out + after.err
    assert "No changes." in after.out


def test_grant_lag_configuration() -> None:
    assert parse_config({"grantLag": {"attempts": 3}}).grant_lag == 3
    assert parse_config({}).grant_lag == 0
    assert parse_config({"grantLag": {"attempts": 3}}).active
    with pytest.raises(FaultConfigError, match="grantLag"):
        parse_config({"grantLag": {"tries": 3}})


def test_key_access_refusals_are_told_apart_from_missing_roles() -> None:
    assert is_key_access_refusal(403, "KeyVaultAccessForbidden", "")
    assert is_key_access_refusal(403, "Forbidden", "The key vault 'kv1' is not accessible (yet)")
    # The caller's own missing role is not a propagating grant of a service.
    assert not is_key_access_refusal(403, "AuthorizationFailed", "The client does not have authorization")
    assert not is_key_access_refusal(400, "KeyVaultAccessForbidden", "")


class _Clock:
    """Time that moves only when the policy sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_missing_grant_gives_up_sooner_with_a_clear_message() -> None:
    clock = _Clock()
    policy = RetryPolicy(max_attempts=1000, base_delay=8, max_delay=30, max_total=300, access_max_total=120,
                         sleep=clock.sleep, clock=clock)

    def refused() -> None:
        raise KeyAccessPendingError("create Mongo cluster m1: HTTP 403 KeyVaultAccessForbidden: not accessible",
                                    plane="arm", code="KeyVaultAccessForbidden", status=403)

    with pytest.raises(ProviderError) as raised:
        policy.call(refused, what="creating mongo_cluster.m1")
    message = str(raised.value)
    assert message.startswith("creating mongo_cluster.m1: the key vault still refuses access to the key after ")
    assert "check the grant" in message and "KeyVaultAccessForbidden" in message
    assert not isinstance(raised.value, TransientError)
    assert clock.now <= 120


def test_other_transient_errors_keep_the_general_bound() -> None:
    clock = _Clock()
    policy = RetryPolicy(max_attempts=1000, base_delay=8, max_delay=30, max_total=300, access_max_total=120,
                         sleep=clock.sleep, clock=clock)

    def throttled() -> None:
        raise TransientError("HTTP 503", plane="arm", status=503)

    with pytest.raises(ProviderError, match="gave up after"):
        policy.call(throttled, what="creating vault kv1")
    assert clock.now > 120
