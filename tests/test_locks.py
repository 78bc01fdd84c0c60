"""Two applies of one key set never interleave: the local lock, the DynamoDB lock (moto), the blob lease lock (Azurite)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cmkctl_sandbox.census import census
from cmkctl_sandbox.halt import HALT_MARKER, HALT_VARIABLE
from cmkctl_sandbox.world import load_state
from reconciler.core.lock import Holder, LocalLock, LockError, held
from tests import azurite
from tests.conftest import EXAMPLES, ROOT, Result, mutating_calls, write

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"


def start_apply(sandbox: Path, *extra: str, env: dict[str, str] | None = None,
                manifest: Path = EXAMPLE) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "reconciler", "apply", "-f", str(manifest), "--sandbox", str(sandbox),
                             "--auto-approve", *extra], env={**os.environ, **(env or {})}, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def waiting_line(process: subprocess.Popen[str]) -> str:
    """The stderr a waiting apply writes up to its "Waiting up to ..." line (all of it, should it end first)."""
    assert process.stderr is not None
    seen = ""
    for line in process.stderr:
        seen += line
        if "Waiting up to" in line:
            break
    return seen


def run_cmkctl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reconciler", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=180)


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
        # `lock break` refuses local locks, so the refusal offers only what works for one.
        assert "lock break" not in refused.stderr
        assert "--lock-timeout SECONDS" in refused.stderr and "nothing to break" in refused.stderr
        assert f"stop process {first.pid} on" in refused.stderr

        second = start_apply(sandbox, "--lock-timeout", "60")
        told = waiting_line(second)
        assert "Waiting up to 60s" in told and second.poll() is None  # it says whom it waits for, and waits
    finally:
        first.send_signal(signal.SIGKILL)  # the kernel releases a dead holder's lock
        first.wait()
    (sandbox / HALT_MARKER).unlink()
    out, err = second.communicate(timeout=120)
    err = told + err
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


@pytest.fixture(scope="session")
def azurite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[azurite.Azurite]:
    with azurite.running(tmp_path_factory.mktemp("azurite")) as server:
        yield server


@pytest.fixture
def blob_storage(azurite_server: azurite.Azurite, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh container in Azurite, reached by cmkctl through the connection string over HTTPS (its CA
    trusted as an operator trusts a private CA); its name."""
    from reconciler.providers.azure_blob_lock import CONNECTION_STRING_VARIABLE

    monkeypatch.setenv(CONNECTION_STRING_VARIABLE, azurite_server.connection)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", azurite_server.ca_bundle)
    return azurite.new_container(azurite_server)


@dataclass
class SharedLock:
    """One backend of the shared lock, as a test drives it."""

    make: Callable[[str], Any]  # key set -> a lock object
    manifest: str  # the manifest's `lock:` entry
    flags: tuple[str, ...]  # the same place, by flags
    abandon: Callable[[Any], None]  # what dying without releasing leaves behind


def _dynamodb_backend(request: pytest.FixtureRequest) -> SharedLock:
    from reconciler.providers.aws_lock import DynamoDbLock

    request.getfixturevalue("dynamodb")
    return SharedLock(lambda key_set: DynamoDbLock(TABLE, REGION, key_set),
                      f"dynamodb: {{table: {TABLE}, region: {REGION}}}", ("--lock-table", TABLE, "--lock-region", REGION),
                      lambda lock: None)


def _blob_backend(request: pytest.FixtureRequest) -> SharedLock:
    from reconciler.providers.azure_blob_lock import BlobLeaseLock

    container = request.getfixturevalue("blob_storage")
    made: list[Any] = []

    def make(key_set: str) -> Any:
        made.append(BlobLeaseLock(azurite.ACCOUNT, container, None, key_set, connection_string=_blob_connection()))
        return made[-1]

    def abandon(lock: Any) -> None:  # the process is gone: no more renewals, no release; its lease outlives it
        lock.renewer.stop()
        lock._lease = None

    request.addfinalizer(lambda: [lock.renewer.stop() for lock in made if lock.renewer is not None])
    return SharedLock(make, f"azureBlob: {{account: {azurite.ACCOUNT}, container: {container}}}",
                      ("--lock-blob-account", azurite.ACCOUNT, "--lock-blob-container", container), abandon)


@pytest.fixture(params=["dynamodb", "azure-blob"])
def shared(request: pytest.FixtureRequest) -> SharedLock:
    return _dynamodb_backend(request) if request.param == "dynamodb" else _blob_backend(request)


def test_a_shared_lock_is_exclusive_names_its_holder_and_is_broken_only_explicitly(shared: SharedLock) -> None:
    first, second = shared.make("acme"), shared.make("acme")
    me = Holder.me("acme")
    assert first.try_acquire(me) is None
    holder = second.try_acquire(Holder.me("acme"))
    assert holder is not None and (holder.id, holder.pid, holder.host) == (me.id, me.pid, me.host)
    other_set = shared.make("other-set")
    assert other_set.try_acquire(Holder.me("other-set")) is None  # per key set
    with pytest.raises(LockError, match="not lock id wrong"):
        second.break_lock("wrong")
    assert second.holder() == holder
    assert second.break_lock(me.id) == holder
    successor = Holder.me("acme")
    assert second.try_acquire(successor) is None
    first.release(me)  # no longer ours: releasing leaves the new holder's lock alone
    assert second.holder() == successor
    second.release(successor)
    other_set.release(Holder.me("other-set"))
    assert second.holder() is None


@pytest.mark.parametrize("place", ["manifest", "manifest and flags"])
def test_apply_with_a_shared_lock(shared: SharedLock, place: str, cmkctl: Callable[..., Result],
                                  tmp_path: Path) -> None:
    manifest = write(tmp_path / "m.yaml", EXAMPLE.read_text().replace("accounts:", f"lock:\n  {shared.manifest}\n"
                                                                                     "accounts:", 1))
    flags = shared.flags if place == "manifest and flags" else ()  # flags may repeat the declared lock
    stale = Holder("ci-runner", "build-7", 4242, "2026-01-01T00:00:00Z", "dead-beef", "acme-astra")
    lock = shared.make("acme-astra")
    assert lock.try_acquire(stale) is None
    shared.abandon(lock)  # a CI job that died holding it

    refused = cmkctl("apply", "-f", manifest, "--sandbox", tmp_path / "sb", "--auto-approve", *flags)
    assert refused.code == 1
    assert "locked by ci-runner on build-7 (pid 4242) since 2026-01-01T00:00:00Z" in refused.err
    # The manifest names the lock: breaking it needs no flags, whichever the refused run gave.
    assert "cmkctl lock break -f MANIFEST --id dead-beef" in refused.err
    assert lock.holder() == stale  # never broken silently

    broken = cmkctl("lock", "break", "-f", manifest, "--id", "dead-beef", *flags)
    assert broken.code == 0 and "held by ci-runner on build-7" in broken.out
    applied = cmkctl("apply", "-f", manifest, "--sandbox", tmp_path / "sb", "--auto-approve", *flags)
    assert applied.code == 0, applied.err
    assert lock.holder() is None  # released at the end


def test_a_run_naming_a_shared_lock_the_key_set_does_not_declare_is_refused(
        request: pytest.FixtureRequest, cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    """The attack: one apply under the local lock, a second with --lock-table, side by side on one key set."""
    shared = _dynamodb_backend(request)
    sandbox = tmp_path / "sandbox"
    first = start_apply(sandbox, env={HALT_VARIABLE: "mutation:3"})  # the local lock, held mid-apply
    try:
        wait_for(sandbox / HALT_MARKER, first)
        wire = tmp_path / "second.log"
        second = cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve", *shared.flags,
                        "--debug-file", wire)
        assert second.code == 1, second.out + second.err
        assert "key set acme-astra declares no shared lock" in second.err
        assert f"lock: {{{shared.manifest}}}" in second.err  # the declaration that makes every run take it
        # It read and changed nothing: it sent no request at all. (The halted first apply's requests
        # already in flight may still reach the journal, so the journal cannot tell the two runs apart.)
        assert "Plan:" not in second.out
        assert not wire.exists() or "cmkctl http" not in wire.read_text()
        assert shared.make("acme-astra").holder() is None  # and never took the table's lock
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()


@pytest.mark.parametrize(("declared", "flags", "named"), [
    (f"azureBlob: {{account: {azurite.ACCOUNT}, container: cmkctl}}", ("--lock-table", TABLE, "--lock-region", REGION),
     "--lock-table cmkctl-locks, --lock-region us-east-1 names another lock"),
    (f"dynamodb: {{table: {TABLE}, region: {REGION}}}", ("--lock-table", "other-locks"),
     "--lock-table other-locks names another lock"),
    (f"dynamodb: {{table: {TABLE}, region: {REGION}}}", ("--lock-region", "eu-west-1"),
     "--lock-region eu-west-1 names another lock"),
])
def test_a_run_naming_another_lock_than_the_declared_one_is_refused(
        declared: str, flags: tuple[str, ...], named: str, dynamodb: None, cmkctl: Callable[..., Result],
        tmp_path: Path) -> None:
    manifest = write(tmp_path / "m.yaml", EXAMPLE.read_text().replace("accounts:", f"lock:\n  {declared}\naccounts:", 1))
    line = manifest.read_text().splitlines().index("lock:") + 1
    for command in (("apply", "-f", manifest, "--sandbox", tmp_path / "sb", "--auto-approve"),
                    ("plan", "-f", manifest, "--sandbox", tmp_path / "sb", "--lock"),
                    ("lock", "break", "-f", manifest)):
        refused = cmkctl(*command, *flags)
        assert refused.code == 1, refused.out + refused.err
        assert f"declares its lock at {manifest}:{line}" in refused.err and named in refused.err, refused.err
        assert "Plan:" not in refused.out
    assert not mutating_calls(tmp_path / "sb")


def test_a_holder_killed_with_sigkill_leaves_a_blob_lock_only_lock_break_removes(blob_storage: str,
                                                                                   tmp_path: Path) -> None:
    from azure.storage.blob import BlobClient, BlobLeaseClient

    from reconciler.providers.azure_blob_lock import CONNECTION_STRING_VARIABLE, BlobLeaseLock, default_blob

    sandbox, connection = tmp_path / "sandbox", os.environ[CONNECTION_STRING_VARIABLE]
    manifest = write(tmp_path / "m.yaml", EXAMPLE.read_text().replace(
        "accounts:", f"lock:\n  azureBlob: {{account: {azurite.ACCOUNT}, container: {blob_storage}}}\naccounts:", 1))
    first = start_apply(sandbox, env={HALT_VARIABLE: "mutation:3"}, manifest=manifest)
    waiting: subprocess.Popen[str] | None = None
    try:
        wait_for(sandbox / HALT_MARKER, first)  # holding the lock, mid-apply
        refused = run_cmkctl("apply", "-f", manifest, "--sandbox", sandbox, "--auto-approve")
        assert refused.returncode == 1
        assert f"(pid {first.pid})" in refused.stderr and "cmkctl lock break -f MANIFEST --id" in refused.stderr
        lock_id = re.search(r"--id (\S+)", refused.stderr)
        assert lock_id is not None, refused.stderr
        waiting = start_apply(sandbox, "--lock-timeout", "120", manifest=manifest)
        assert waiting.stderr is not None
        told = waiting.stderr.readline()  # printed once it finds the lock held: it waits from then on
        assert "Waiting up to 120s" in told and f"(pid {first.pid})" in told, told
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    (sandbox / HALT_MARKER).unlink()
    # The dead holder's lease would lapse within a minute; end it now, as that minute would.
    blob = BlobClient.from_connection_string(connection, blob_storage, default_blob("acme-astra"))
    BlobLeaseClient(blob).break_lease(lease_break_period=0)
    probe = BlobLeaseLock(azurite.ACCOUNT, blob_storage, None, "acme-astra", connection_string=_blob_connection())
    still = probe.try_acquire(Holder.me("acme-astra"))
    assert still is not None and still.pid == first.pid and still.id == lock_id.group(1)  # its record outlives it
    assert waiting.poll() is None

    broken = run_cmkctl("lock", "break", "-f", manifest, "--id", lock_id.group(1))
    assert broken.returncode == 0 and f"(pid {first.pid})" in broken.stdout, broken.stderr
    out, err = waiting.communicate(timeout=180)
    assert waiting.returncode == 0, out + err
    assert "Apply complete" in out
    assert probe.holder() is None


def test_the_blob_lease_is_renewed_through_a_long_apply(blob_storage: str) -> None:
    from reconciler.providers.azure_blob_lock import LEASE_SECONDS, RENEW_EVERY, BlobLeaseLock

    hour, elapsed, reached = 3600.0, [0.0], threading.Event()

    def pause(stopped: threading.Event, seconds: float) -> bool:  # an hour of apply, in no time
        if elapsed[0] >= hour:
            reached.set()
            return stopped.wait()
        elapsed[0] += seconds
        return stopped.is_set()

    lock = BlobLeaseLock(azurite.ACCOUNT, blob_storage, None, "acme", pause=pause, connection_string=_blob_connection())
    other = BlobLeaseLock(azurite.ACCOUNT, blob_storage, None, "acme", connection_string=_blob_connection())
    with held(lock, "acme", timeout=0) as me:
        assert reached.wait(120)
        assert lock.renewer is not None and lock.renewer.lost is None
        assert lock.renewer.renewals == hour / RENEW_EVERY  # every renewal was accepted: the lease never lapsed
        assert RENEW_EVERY * 2 < LEASE_SECONDS  # a missed renewal is not yet a lost lease
        assert other.try_acquire(Holder.me("acme")) == me
    assert other.holder() is None


def test_a_blob_lease_broken_while_held_is_noticed(blob_storage: str) -> None:
    from reconciler.providers.azure_blob_lock import BlobLeaseLock

    tick, ticked = threading.Semaphore(0), threading.Event()

    def pause(stopped: threading.Event, seconds: float) -> bool:  # one renewal per tick the test gives
        ticked.set()
        while not tick.acquire(timeout=0.05):
            if stopped.is_set():
                return True
        return False

    lock = BlobLeaseLock(azurite.ACCOUNT, blob_storage, None, "acme", pause=pause, connection_string=_blob_connection())
    me = Holder.me("acme")
    assert lock.try_acquire(me) is None
    assert lock.renewer is not None
    renewer = lock.renewer
    BlobLeaseLock(azurite.ACCOUNT, blob_storage, None, "acme", connection_string=_blob_connection()).break_lock(me.id)
    tick.release()
    renewer._thread.join(timeout=30)
    assert renewer.lost is not None and "was lost while held" in str(renewer.lost)
    lock.release(me)  # not ours any more: nothing to clear


def test_plan_takes_the_lock_only_when_asked(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sb"
    lock = LocalLock(sandbox / "locks", "acme-astra")
    with held(lock, "acme-astra", timeout=0) as me:
        refused = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--lock")
        assert refused.code == 1 and f"locked by {me.who} on {me.host}" in refused.err
        assert "lock break" not in refused.err and "Plan:" not in refused.out
        unlocked = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox)  # off by default: plans only read
        assert unlocked.code == 0 and "Plan:" in unlocked.out, unlocked.err
    stray = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--lock-timeout", "5")
    assert stray.code == 1 and "go with --lock" in stray.err
    planned = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--lock")
    assert planned.code == 0 and "Plan:" in planned.out, planned.err
    with held(lock, "acme-astra", timeout=0):
        pass  # the locked plan let it go


def test_the_local_lock_needs_no_posix_only_module(tmp_path: Path) -> None:
    """Windows has no fcntl: the local lock must work without it (filelock picks what the platform has)."""
    script = f"""
import sys, warnings
sys.modules["fcntl"] = None  # as on Windows
warnings.simplefilter("ignore")
from pathlib import Path
from reconciler.core.lock import Holder, LocalLock
first, second = LocalLock(Path({str(tmp_path)!r}), "acme"), LocalLock(Path({str(tmp_path)!r}), "acme")
me = Holder.me("acme")
assert first.try_acquire(me) is None
assert second.try_acquire(Holder.me("acme")) == me
first.release(me)
assert second.try_acquire(Holder.me("acme")) is None
print("exclusive")
"""
    ran = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert ran.returncode == 0 and "exclusive" in ran.stdout, ran.stderr


@pytest.mark.parametrize(("lock", "blamed"), [
    ("{dynamodb: {table: cmkctl-locks, region: us-east-1}, azureBlob: {account: acmelocks, container: cmkctl}}",
     "lock"),
    ("{azureBlob: {account: Acme_Locks, container: cmkctl}}", "lock.azureBlob.account"),
    ("{azureBlob: {account: acmelocks}}", "container"),
])
def test_the_manifest_declares_one_well_formed_lock_at_most(lock: str, blamed: str, cmkctl: Callable[..., Result],
                                                             tmp_path: Path) -> None:
    manifest = write(tmp_path / "m.yaml", EXAMPLE.read_text().replace("accounts:", f"lock: {lock}\naccounts:", 1))
    refused = cmkctl("validate", manifest)
    assert refused.code == 3 and blamed in refused.err and "m.yaml:" in refused.err, refused.err


def test_a_manifest_blob_lock_is_read(tmp_path: Path) -> None:
    from reconciler.manifest.loader import load_one
    from reconciler.systems import PLUGINS

    manifest = write(tmp_path / "m.yaml", EXAMPLE.read_text().replace(
        "accounts:", "lock:\n  azureBlob: {account: acmelocks, container: cmkctl, blob: ci/acme.lock}\naccounts:", 1))
    key_set, _ = load_one([str(manifest)], plugins=PLUGINS)
    assert key_set.lock is not None
    assert (key_set.lock.blob_account, key_set.lock.blob_container, key_set.lock.blob_name) == (
        "acmelocks", "cmkctl", "ci/acme.lock")
    assert key_set.lock.dynamodb_table is None


def test_a_blob_lock_with_a_wrong_key_names_the_fix_not_the_key(blob_storage: str, monkeypatch: pytest.MonkeyPatch,
                                                                  cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    from reconciler.providers.azure_blob_lock import CONNECTION_STRING_VARIABLE

    wrong_key = "d3JvbmcgYnV0IHdlbGwgZm9ybWVkIGtleSBmb3IgdGhlIHRlc3Q="
    connection = os.environ[CONNECTION_STRING_VARIABLE].replace(azurite.DEVELOPMENT_KEY, wrong_key)
    monkeypatch.setenv(CONNECTION_STRING_VARIABLE, connection)
    manifest = write(tmp_path / "m.yaml", EXAMPLE.read_text().replace(
        "accounts:", f"lock:\n  azureBlob: {{account: {azurite.ACCOUNT}, container: {blob_storage}}}\naccounts:", 1))
    refused = cmkctl("apply", "-f", manifest, "--sandbox", tmp_path / "sb", "--auto-approve")
    assert refused.code == 1 and "Storage Blob Data Contributor" in refused.err, refused.err
    assert wrong_key not in refused.out + refused.err and "bug" not in refused.err
    monkeypatch.setenv(CONNECTION_STRING_VARIABLE, "AccountKey=" + wrong_key)
    garbled = cmkctl("apply", "-f", manifest, "--sandbox", tmp_path / "sb", "--auto-approve")
    assert garbled.code == 1 and "is not a storage connection string" in garbled.err, garbled.err
    assert wrong_key not in garbled.out + garbled.err


# ---- the lock's calls in --debug and --audit-log ------------------------------------------------

SECRET_CANARY = "canary-lock-secret-0c1d2e"
SESSION_CANARY = "canary-lock-session-token-3f4a5b"


def _lock_secret(backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple[
        SharedLock, tuple[str, ...]]:
    """The backend, reached with a credential whose secret parts are known: (backend, the secrets)."""
    if backend == "dynamodb":
        shared = _dynamodb_backend(request)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_CANARY)  # moto takes any; the token goes on the wire
        monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_CANARY)
        return shared, (SECRET_CANARY, SESSION_CANARY)
    from datetime import UTC, datetime, timedelta
    from urllib.parse import parse_qs

    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    from reconciler.providers.azure_blob_lock import CONNECTION_STRING_VARIABLE

    shared = _blob_backend(request)
    if backend == "azure-blob-shared-key":  # the connection string's account key signs each request
        return shared, (azurite.DEVELOPMENT_KEY,)
    container = shared.flags[-1]
    endpoint = re.search(r"BlobEndpoint=([^;]+)", request.getfixturevalue("azurite_server").connection)
    assert endpoint is not None
    sas = generate_container_sas(azurite.ACCOUNT, container, account_key=azurite.DEVELOPMENT_KEY,
                                 permission=ContainerSasPermissions(read=True, write=True, create=True, add=True),
                                 expiry=datetime.now(UTC) + timedelta(hours=1))
    monkeypatch.setenv(CONNECTION_STRING_VARIABLE, f"BlobEndpoint={endpoint.group(1)};SharedAccessSignature={sas}")
    signature = parse_qs(sas)["sig"][0]
    return shared, (signature, re.search(r"sig=([^&]+)", sas).group(1), azurite.DEVELOPMENT_KEY)  # type: ignore[union-attr]


@pytest.mark.parametrize("backend", ["dynamodb", "azure-blob-sas", "azure-blob-shared-key"])
def test_the_lock_calls_show_in_the_debug_and_audit_logs_and_no_secret_does(
        backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
        cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    import json

    shared, secrets = _lock_secret(backend, request, monkeypatch)
    manifest = write(tmp_path / "m.yaml", EXAMPLE.read_text().replace("accounts:", f"lock:\n  {shared.manifest}\n"
                                                                                     "accounts:", 1))
    debug, audit = tmp_path / "debug.log", tmp_path / "audit.jsonl"
    applied = cmkctl("apply", "-f", manifest, "--sandbox", tmp_path / "sb", "--auto-approve", "--debug-file", debug,
                     "--audit-log", audit)
    assert applied.code == 0, applied.err
    wire = [json.loads(line.removeprefix("cmkctl http ")) for line in debug.read_text().splitlines()
            if line.startswith("cmkctl http ")]
    if backend == "dynamodb":
        lock_calls = [(e["method"], e["path"]) for e in wire if e["path"].startswith("dynamodb:")]
        assert ("POST", "dynamodb:PutItem") in lock_calls and ("POST", "dynamodb:DeleteItem") in lock_calls
    else:
        lock_calls = [(e["method"], (e["query"] or "").split("&")[0]) for e in wire if e["plane"] == "storage"]
        assert ("PUT", "comp=lease") in lock_calls and ("PUT", "comp=metadata") in lock_calls, lock_calls
        storage = [e for e in wire if e["plane"] == "storage"]
        if backend == "azure-blob-sas":
            assert all("sig=***" in e["query"] for e in storage)
        else:
            assert {e["request"].get("Authorization") for e in storage} == {"***"}  # SharedKey ACCOUNT:SIGNATURE
    for text in (debug.read_text(), audit.read_text(), applied.out, applied.err):
        for secret in secrets:
            assert secret not in text
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    lock_events = [e["what"] for e in events if "lock" in e["what"]]
    assert [e["lock"] for e in lock_events] == ["taken", "released"]
    assert {e["key_set"] for e in lock_events} == {"acme-astra"} and len({e["lock_id"] for e in lock_events}) == 1
    taken, released = (events.index(e) for e in events if "lock" in e["what"])
    steps = [i for i, e in enumerate(events) if e["what"].get("step")]
    assert steps and taken < min(steps) and max(steps) < released  # held from before the first step to after the last
    mutating_lock_calls = [e["what"] for e in events if e["what"].get("plane") in ("storage", "aws")]
    assert mutating_lock_calls, "the lock's writes are audited like every mutating call"


def _blob_connection() -> str:
    """The connection string the front end would hand a blob lock: the one the azurite fixture set."""
    from reconciler.providers.azure_blob_lock import CONNECTION_STRING_VARIABLE

    return os.environ[CONNECTION_STRING_VARIABLE]
