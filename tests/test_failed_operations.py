"""ARM's long-running operations as the services answer them, through the real CLI: a data center's
and a Mongo cluster's PATCH answered 202 with `Azure-AsyncOperation` and polled until done, in the
emulator's time; an operation that fails, told with the service's code and message; a key the
service cannot reach while a grant propagates, waited out or given up on after the grant budget."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cmkctl_sandbox import realism
from cmkctl_sandbox.state import read_calls
from tests.conftest import EXAMPLES, Result, apply_ok, write

CASSANDRA = EXAMPLES / "cassandra-managed-instance.yaml"
MONGO = EXAMPLES / "mongo-vcore.yaml"
MONGO_UPDATE = "mongo_cluster.eastus.orders-mongo"
FAULT_CODE = "ClusterUpdateFailed"
FAULT_MESSAGE = "The update could not be applied to node 2 of the cluster."


@pytest.fixture(autouse=True)
def passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASSANDRA_ADMIN_PASSWORD", "canary-cassandra-7d1f")
    monkeypatch.setenv("MONGO_ADMIN_PASSWORD", "canary-mongo-93ab")


@pytest.fixture
def real_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every real sleep asked for (none may be: a run against the emulator waits on its clock)."""
    asked: list[float] = []
    monkeypatch.setattr(time, "sleep", asked.append)
    return asked


def emulator_offset(sandbox: Path) -> float:
    offset: float = json.loads((sandbox / "state.json").read_text()).get("clock", {}).get("offsetSeconds", 0)
    return offset


def calls_since(sandbox: Path, start: int) -> list[dict[str, Any]]:
    return read_calls(sandbox)[start:]


def segment(call: dict[str, Any], back: int) -> str:
    return str(call["path"]).split("/")[-back]


def with_new_identity(tmp_path: Path) -> Path:
    """The Mongo example with the cluster's key identity replaced: a new identity, its new grant, and the
    cluster's PATCH that moves the key to it."""
    return write(tmp_path / "new-identity.yaml", MONGO.read_text().replace("orders-mongo-cmk", "orders-mongo-cmk2"))


def with_new_key(tmp_path: Path) -> Path:
    text = MONGO.read_text().replace("- name: orders-mongo\n", "- name: orders-mongo2\n")
    return write(tmp_path / "new-key.yaml", text.replace("key: orders-mongo\n", "key: orders-mongo2\n"))


def operation_statuses(calls: list[dict[str, Any]], collection: str) -> list[str]:
    return [c["responseBody"]["status"] for c in calls if c["method"] == "GET" and segment(c, 2) == collection]


# ---- channels ----------------------------------------------------------------------------------


def test_a_data_center_patch_is_accepted_then_polled_until_it_succeeds(
        cmkctl: Callable[..., Result], tmp_path: Path, real_sleeps: list[float]) -> None:
    sandbox = tmp_path / "sandbox"
    apply_ok(cmkctl, CASSANDRA, sandbox)
    rotated = cmkctl("sandbox", "rotate-key", sandbox, "acme-cassandra-eastus", "cassandra-eastus")
    assert rotated.code == 0, rotated.err
    start, offset = len(read_calls(sandbox)), emulator_offset(sandbox)
    apply_ok(cmkctl, CASSANDRA, sandbox)
    calls = calls_since(sandbox, start)
    patch = next(c for c in calls if c["method"] == "PATCH")
    # As CosmosDBManagedCassandraDataCenterPatch.json answers: 202, the data center Updating.
    assert segment(patch, 2) == "dataCenters" and patch["status"] == 202
    assert patch["responseBody"]["properties"]["provisioningState"] == "Updating"
    # Its Azure-AsyncOperation polled every 30 s (the SDK's interval: no Retry-After) until it ended.
    statuses = operation_statuses(calls, "operationsStatus")
    assert statuses[-1] == "Succeeded" and set(statuses[:-1]) == {"Dequeued"} and len(statuses) >= 2, statuses
    final = calls[-1] if calls[-1]["method"] == "GET" and segment(calls[-1], 2) == "dataCenters" else None
    assert final is not None and final["responseBody"]["properties"]["provisioningState"] == "Succeeded"
    # It ran for its time in the emulator's clock, waited there, not for real.
    assert emulator_offset(sandbox) - offset >= realism.DEFAULTS[realism.CASSANDRA_UPDATE] and not [s for s in real_sleeps if s > 0]


def test_a_mongo_patch_is_accepted_then_polled_until_it_succeeds(
        cmkctl: Callable[..., Result], tmp_path: Path, real_sleeps: list[float]) -> None:
    sandbox = tmp_path / "sandbox"
    apply_ok(cmkctl, MONGO, sandbox)
    start, offset = len(read_calls(sandbox)), emulator_offset(sandbox)
    apply_ok(cmkctl, with_new_key(tmp_path), sandbox)
    calls = calls_since(sandbox, start)
    patch = next(c for c in calls if c["method"] == "PATCH")
    # As MongoClusters_PatchCMK.json answers: 202, no body.
    assert segment(patch, 2) == "mongoClusters" and patch["status"] == 202 and patch["responseBody"] is None
    statuses = operation_statuses(calls, "mongoClusterAzureAsyncOperation")
    assert statuses[-1] == "Succeeded" and set(statuses[:-1]) == {"InProgress"} and len(statuses) >= 2, statuses
    # Once it succeeded, the SDK reads the cluster (azure-mgmt-mongocluster asks no final-state-via of its poller).
    final = calls[calls.index(patch) + len(statuses) + 1]
    assert final["method"] == "GET" and segment(final, 2) == "mongoClusters", final
    cmk = final["responseBody"]["properties"]["encryption"]["customerManagedKeyEncryption"]
    assert cmk["keyEncryptionKeyUrl"].endswith("/keys/orders-mongo2")
    assert final["responseBody"]["properties"]["provisioningState"] == "Succeeded"
    assert emulator_offset(sandbox) - offset >= realism.DEFAULTS[realism.MONGO_CLUSTER_UPDATE] and not [s for s in real_sleeps if s > 0]


# ---- failed operations ---------------------------------------------------------------------------


def test_a_failed_operation_is_told_with_the_services_code_and_message(
        cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    apply_ok(cmkctl, MONGO, sandbox)
    start = len(read_calls(sandbox))
    write(sandbox / "faults.yaml", f"failOperations:\n  - {{method: PATCH, path: /mongoClusters/orders-mongo, "
                                   f"code: {FAULT_CODE}, message: '{FAULT_MESSAGE}', times: 1}}\n")
    applied = cmkctl("apply", "-f", with_new_key(tmp_path), "--sandbox", sandbox, "--auto-approve")
    assert applied.code == 1, applied.out + applied.err
    told = [line for line in applied.err.splitlines() if FAULT_CODE in line]
    assert len(told) == 1, applied.err
    assert told[0].strip() == (f"failed  {MONGO_UPDATE}: update Mongo cluster orders-mongo: the operation failed: "
                               f"{FAULT_CODE}: {FAULT_MESSAGE}"), told[0]
    assert "HTTP 200" not in applied.err and "Traceback" not in applied.err
    # Not a wait: one PATCH, failed at once, not retried.
    assert [c["method"] for c in calls_since(sandbox, start) if c["method"] == "PATCH"] == ["PATCH"]
    # The service put the old key back, the cluster Failed: the next apply sends the key again and converges.
    (sandbox / "faults.yaml").unlink()
    again = apply_ok(cmkctl, with_new_key(tmp_path), sandbox)
    assert "Plan: 0 to create, 1 to update" in again.out
    assert cmkctl("plan", "-f", with_new_key(tmp_path), "--sandbox", sandbox, "--detailed-exitcode").code == 0


@pytest.mark.nonconforming("the vault's operation ends provisioningState Failed, which Key Vault's definition does not "
                           "list (ARM's async reference makes Failed every resource's terminal failure)")
def test_a_vault_whose_creation_fails_is_told_as_failed_not_as_http_200(
        cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "faults.yaml", "failOperations:\n  - {method: PUT, path: /vaults/acme-mongo-eastus, "
                                   "code: InternalError, message: 'DNS registration failed.'}\n")
    applied = cmkctl("apply", "-f", MONGO, "--sandbox", sandbox, "--auto-approve")
    assert applied.code == 1, applied.out + applied.err
    told = [line for line in applied.err.splitlines() if "failed  " in line]
    assert len(told) == 1, applied.err
    assert told[0].strip() == ("failed  azure_vault.eastus.acme-mongo-eastus: create vault acme-mongo-eastus: the "
                               "operation ended with provisioningState Failed and Azure gave no reason (the "
                               "resource's activity log may say more)"), told[0]
    assert "HTTP 200" not in applied.err


# ---- key access while a grant propagates -------------------------------------------------------


def failed_key_access(sandbox: Path) -> list[dict[str, Any]]:
    operations = json.loads((sandbox / "state.json").read_text())["arm"].get("operations", {})
    return [record for record in operations.values()
            if record["status"] == "Failed" and record["error"]["code"] == "KeyVaultAccessForbidden"]


def test_a_mongo_patch_refused_the_key_while_its_grant_propagates_is_waited_out(
        cmkctl: Callable[..., Result], tmp_path: Path, real_sleeps: list[float]) -> None:
    sandbox = tmp_path / "sandbox"
    apply_ok(cmkctl, MONGO, sandbox)
    write(sandbox / "faults.yaml", "grantLag: {seconds: 300}\n")
    moved = with_new_identity(tmp_path)
    applied = cmkctl("apply", "-f", moved, "--sandbox", sandbox, "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    # The PATCH's operation ended Failed while the new identity's grant propagated, and was sent again.
    failed = failed_key_access(sandbox)
    assert failed and {record["target"][1] for record in failed} == {"mongoClusters"}
    assert len([c for c in read_calls(sandbox) if c["method"] == "PATCH"]) == len(failed) + 1
    assert f"{MONGO_UPDATE}: waiting for the grant on vault acme-mongo-eastus to reach Key Vault (Mongo vCore): " \
        in applied.out
    # Five minutes of propagation waited on the emulator's clock, none for real.
    assert emulator_offset(sandbox) >= 300 and not [s for s in real_sleeps if s > 0]
    after = cmkctl("plan", "-f", moved, "--sandbox", sandbox, "--detailed-exitcode")
    assert after.code == 0, after.out + after.err


def test_a_mongo_patch_whose_grant_never_propagates_gives_up_after_the_grant_budget(
        cmkctl: Callable[..., Result], tmp_path: Path, real_sleeps: list[float]) -> None:
    sandbox = tmp_path / "sandbox"
    apply_ok(cmkctl, MONGO, sandbox)
    write(sandbox / "faults.yaml", "grantLag: {seconds: 1000000000}\n")  # never, in the emulator's time
    started = time.monotonic()
    applied = cmkctl("apply", "-f", with_new_identity(tmp_path), "--sandbox", sandbox, "--auto-approve")
    assert time.monotonic() - started < 120  # ten minutes of waiting took no ten minutes
    assert applied.code == 1, applied.out + applied.err
    told = [line for line in applied.err.splitlines() if "gave up" in line]
    assert len(told) == 1, applied.err
    assert re.search(f"updating {MONGO_UPDATE}: gave up waiting for the grant on vault acme-mongo-eastus to reach "
                     r"Key Vault \(Mongo vCore\) after 10m(\d+s)? \(the grant budget is 10m; --wait grant=DURATION "
                     r"changes it\)\. Last answer: update Mongo cluster orders-mongo: the operation failed: "
                     "KeyVaultAccessForbidden: ", told[0]), told[0]
    assert len(failed_key_access(sandbox)) > 2 and not [s for s in real_sleeps if s > 0]
