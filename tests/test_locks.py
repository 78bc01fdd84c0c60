"""Two applies of one key set never interleave: the local lock, and the DynamoDB lock (against moto)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.core.lock import Holder, LocalLock, LockError, held
from reconciler.sandbox.census import census
from reconciler.sandbox.halt import HALT_MARKER, HALT_VARIABLE
from reconciler.sandbox.world import load_state
from tests.conftest import EXAMPLES, ROOT, Result, write

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"


def start_apply(sandbox: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "reconciler", "apply", "-f", str(EXAMPLE), "--sandbox", str(sandbox),
                             "--auto-approve", *extra], env={**os.environ, **(env or {})}, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_a_second_apply_fails_naming_the_holder_then_waits_and_finishes(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    first = start_apply(sandbox, env={HALT_VARIABLE: "mutation:3"})  # holds the lock, stopped mid-apply
    try:
        wait_for(sandbox / HALT_MARKER, first)
        refused = subprocess.run([sys.executable, "-m", "reconciler", "apply", "-f", str(EXAMPLE), "--sandbox",
                                  str(sandbox), "--auto-approve"], cwd=ROOT, capture_output=True, text=True)
        assert refused.returncode == 1
        assert f"(pid {first.pid})" in refused.stderr and "is locked by" in refused.stderr, refused.stderr
        assert "Key set" not in refused.stdout  # it read nothing, planned nothing

        second = start_apply(sandbox, "--lock-timeout", "60")
        time.sleep(1.5)
        assert second.poll() is None  # waiting for the lock
    finally:
        first.send_signal(signal.SIGKILL)  # the kernel releases a dead holder's lock
        first.wait()
    (sandbox / HALT_MARKER).unlink()
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, out + err
    assert "held by" in err and f"(pid {first.pid})" in err
    assert "Apply complete" in out
    settled = subprocess.run([sys.executable, "-m", "reconciler", "plan", "-f", str(EXAMPLE), "--sandbox", str(sandbox),
                              "--detailed-exitcode"], cwd=ROOT, capture_output=True, text=True)
    assert settled.returncode == 0, settled.stdout + settled.stderr
    assert census(load_state(sandbox))["azure_vault"] == 2


def test_two_concurrent_applies_end_in_the_declared_state(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "faults.yaml", "all: {latency: {ms: 5}}\n")
    runs = [start_apply(sandbox, "--lock-timeout", "120") for _ in range(2)]
    results = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], results
    assert sorted("No changes." in out for out, _ in results) == [False, True]  # one applied, then one found nothing
    found = census(load_state(sandbox))
    assert found["azure_vault"] == 2 and found["astra_registration"] == 2 and found["azure_key"] == 2


def test_the_local_lock_names_its_holder_and_times_out(tmp_path: Path) -> None:
    lock, other = LocalLock(tmp_path, "acme"), LocalLock(tmp_path, "acme")
    waited: list[Holder] = []
    clock = iter(range(100))
    with held(lock, "acme", timeout=0) as me:  # noqa: SIM117 - the inner one needs `me`
        with pytest.raises(LockError, match=f"locked by {me.who} on {me.host} \\(pid {os.getpid()}\\)"), held(
                other, "acme", timeout=3, on_wait=waited.append, sleep=lambda s: None,
                clock=lambda: float(next(clock))):
            pass
    assert waited and waited[0].id == me.id
    with held(other, "acme", timeout=0):
        pass  # released by the first


# ---- DynamoDB ---------------------------------------------------------------------------------

TABLE, REGION = "cmkctl-locks", "us-east-1"


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        import boto3

        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=TABLE, KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
        yield


def test_the_dynamodb_lock_is_exclusive_names_its_holder_and_is_broken_only_explicitly(dynamodb: None) -> None:
    from reconciler.providers.aws_lock import DynamoDbLock

    first, second = DynamoDbLock(TABLE, REGION, "acme"), DynamoDbLock(TABLE, REGION, "acme")
    me = Holder.me("acme")
    assert first.try_acquire(me) is None
    holder = second.try_acquire(Holder.me("acme"))
    assert holder is not None and (holder.id, holder.pid, holder.host) == (me.id, me.pid, me.host)
    assert DynamoDbLock(TABLE, REGION, "other-set").try_acquire(Holder.me("other-set")) is None  # per key set
    with pytest.raises(LockError, match="not lock id wrong"):
        second.break_lock("wrong")
    assert second.holder() == holder
    assert second.break_lock(me.id) == holder
    assert second.try_acquire(Holder.me("acme")) is None
    first.release(me)  # no longer ours: releasing leaves the new holder's lock alone
    assert second.holder() is not None


def test_apply_with_a_dynamodb_lock_from_the_manifest(dynamodb: None, cmkctl: Callable[..., Result],
                                                      tmp_path: Path) -> None:
    from reconciler.providers.aws_lock import DynamoDbLock

    manifest = write(tmp_path / "m.yaml", EXAMPLE.read_text().replace(
        "accounts:", f"lock:\n  dynamodb: {{table: {TABLE}, region: {REGION}}}\naccounts:", 1))
    stale = Holder("ci-runner", "build-7", 4242, "2026-01-01T00:00:00Z", "dead-beef", "acme-astra")
    lock = DynamoDbLock(TABLE, REGION, "acme-astra")
    assert lock.try_acquire(stale) is None  # a CI job that died holding it

    refused = cmkctl("apply", "-f", manifest, "--sandbox", tmp_path / "sb", "--auto-approve")
    assert refused.code == 1
    assert "locked by ci-runner on build-7 (pid 4242) since 2026-01-01T00:00:00Z" in refused.err
    assert "cmkctl lock break -f MANIFEST --id dead-beef" in refused.err
    assert lock.holder() == stale  # never broken silently

    broken = cmkctl("lock", "break", "-f", manifest, "--id", "dead-beef")
    assert broken.code == 0 and "held by ci-runner on build-7" in broken.out
    applied = cmkctl("apply", "-f", manifest, "--sandbox", tmp_path / "sb", "--auto-approve")
    assert applied.code == 0, applied.err
    assert lock.holder() is None  # released at the end
