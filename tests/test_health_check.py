"""`cmkctl check`: each link of a key path broken by hand turns exactly the paths through it broken."""

from __future__ import annotations

import collections
import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cmkctl_sandbox import breakage
from cmkctl_sandbox.state import read_calls, read_state_file
from reconciler.cli import main
from tests.conftest import EXAMPLES, Result

ALL_SYSTEMS = EXAMPLES / "all-systems.yaml"
DECLARED_OBJECTS = 45
CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
CONSUMERS = {
    "astra_registration.eastus.serverless", "astra_registration.westeurope.serverless",
    "astra_registration.eu-west-1.serverless", "astra_registration.eu-west-1.managed-clusters",
    "astra_registration.us-east-2.managed-clusters", "cassandra_data_center.eastus.acme-cassandra/dc-eastus",
    "mongo_cluster.eastus.acme-orders", "confluent_cluster.eastus.orders",
    "confluent_byok_key.westeurope.acme-kafka-weu/kafka-weu",
}


@pytest.fixture(autouse=True)
def passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASSANDRA_ADMIN_PASSWORD", "canary-cassandra-7d1f")
    monkeypatch.setenv("MONGO_ADMIN_PASSWORD", "canary-mongo-93ab")


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """all-systems.yaml applied once, and planned once more (Confluent has validated its keys since)."""
    sandbox = tmp_path_factory.mktemp("applied") / "sandbox"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CASSANDRA_ADMIN_PASSWORD", "canary-cassandra-7d1f")
        patch.setenv("MONGO_ADMIN_PASSWORD", "canary-mongo-93ab")
        for args in (("apply", "--auto-approve"), ("plan",)):
            with pytest.raises(SystemExit) as done:
                main([args[0], "-f", str(ALL_SYSTEMS), "--sandbox", str(sandbox), *args[1:]])
            assert done.value.code == 0
    yield sandbox


@pytest.fixture
def sandbox(applied: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "sandbox"
    shutil.copytree(applied, copy, ignore=shutil.ignore_patterns("sandbox.lock", "locks"))
    return copy


def check(cmkctl: Callable[..., Result], sandbox: Path, *extra: str) -> tuple[Result, dict[str, dict[str, object]]]:
    result = cmkctl("check", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--format", "json", *extra)
    return result, {path["consumer"]: path for path in json.loads(result.out)["paths"]}


def broken_only(paths: dict[str, dict[str, object]], *expected: str) -> list[str]:
    """The reasons of the broken paths, after asserting they are exactly `expected`."""
    assert set(paths) == CONSUMERS
    assert {c for c, p in paths.items() if p["status"] == "broken"} == set(expected)
    assert {c for c, p in paths.items() if p["status"] != "broken"} == CONSUMERS - set(expected)
    return [str(f["reason"]) for c in expected for f in paths[c]["findings"]]  # type: ignore[attr-defined]


def test_a_healthy_fleet_exits_0(cmkctl: Callable[..., Result], sandbox: Path) -> None:
    result, paths = check(cmkctl, sandbox)
    assert result.code == 0, result.err
    assert {p["status"] for p in paths.values()} == {"healthy"}
    table = cmkctl("check", "-f", ALL_SYSTEMS, "--sandbox", sandbox)
    assert table.code == 0
    assert "Region westeurope" in table.out and "Health of acme-platform: healthy (9 healthy)." in table.out


def test_a_disabled_key_breaks_its_consumer(cmkctl: Callable[..., Result], sandbox: Path) -> None:
    breakage.disable_key(sandbox, "acme-mongo-eus", "mongo-eus")
    result, paths = check(cmkctl, sandbox)
    assert result.code == 1
    assert broken_only(paths, "mongo_cluster.eastus.acme-orders") == [
        "the key is disabled (attributes.enabled: false)"]


def test_an_expired_key_breaks_and_a_nearly_expired_one_warns(cmkctl: Callable[..., Result], sandbox: Path) -> None:
    breakage.expire_key(sandbox, "acme-cass-eus", "cass-eus", at=int(time.time()) - 60)
    result, paths = check(cmkctl, sandbox)
    assert result.code == 1
    (reason,) = broken_only(paths, "cassandra_data_center.eastus.acme-cassandra/dc-eastus")
    assert reason.startswith("the key expired at ")
    breakage.expire_key(sandbox, "acme-cass-eus", "cass-eus", at=int(time.time()) + 10 * 86_400 + 3600)
    result, paths = check(cmkctl, sandbox)
    assert result.code == 2
    assert paths["cassandra_data_center.eastus.acme-cassandra/dc-eastus"]["status"] == "warning"
    assert "in 10 day(s)" in str(paths["cassandra_data_center.eastus.acme-cassandra/dc-eastus"]["findings"])
    relaxed, _ = check(cmkctl, sandbox, "--expiry-warning", "5")
    assert relaxed.code == 0


def test_a_removed_grant_breaks_its_consumer(cmkctl: Callable[..., Result], sandbox: Path) -> None:
    assert breakage.remove_role_assignments(sandbox, "/vaults/acme-astra-eus", CRYPTO_SERVICE_ENCRYPTION_USER) == 2
    result, paths = check(cmkctl, sandbox)
    assert result.code == 1
    reasons = broken_only(paths, "astra_registration.eastus.serverless")
    assert reasons == ["the grant does not exist: the consumer's principal cannot use the key"] * 2


def test_a_vault_closed_to_trusted_services_breaks_the_cassandra_path(cmkctl: Callable[..., Result],
                                                                      sandbox: Path) -> None:
    """Someone turns the bypass off on a vault that denies public networks: the data centers, which reach
    the key as a trusted Microsoft service, no longer can (Cosmos DB's customer-key guide)."""
    def close(state: dict[str, Any]) -> None:
        vault = state["arm"]["vaults"]["acme-cass-eus"]["resource"]["properties"]
        vault["networkAcls"] = {**vault.get("networkAcls", {}), "defaultAction": "Deny", "bypass": "None"}

    breakage.edit_state(sandbox, close)
    result, paths = check(cmkctl, sandbox)
    assert result.code == 1
    assert broken_only(paths, "cassandra_data_center.eastus.acme-cassandra/dc-eastus") == [
        "Managed Instance for Apache Cassandra cannot reach the key: the vault denies public networks and does not "
        "let trusted Microsoft services bypass its firewall (networkAcls: defaultAction Deny, bypass None)"]


def test_confluent_reporting_invalid_breaks_its_key(cmkctl: Callable[..., Result], sandbox: Path) -> None:
    breakage.report_invalid(sandbox, "https://acme-kafka-weu.vault.azure.net/keys/kafka-weu",
                            "the key vault refuses access to the key")
    result, paths = check(cmkctl, sandbox)
    assert result.code == 1
    assert broken_only(paths, "confluent_byok_key.westeurope.acme-kafka-weu/kafka-weu") == [
        "Confluent reports validation.phase INVALID: the key vault refuses access to the key"]


def test_a_kms_key_pending_deletion_breaks_its_registration(cmkctl: Callable[..., Result], sandbox: Path) -> None:
    state = read_state_file(sandbox)
    assert state is not None
    (arn,) = [k["arn"] for k in state["kms"]["keys"] if k["aliases"] == ["alias/acme-astra-classic-use2"]]
    breakage.schedule_kms_deletion(sandbox, arn)
    result, paths = check(cmkctl, sandbox)
    assert result.code == 1
    (reason,) = broken_only(paths, "astra_registration.us-east-2.managed-clusters")
    assert "which is PendingDeletion" in reason


def test_a_dropped_astra_registration_breaks(cmkctl: Callable[..., Result], sandbox: Path) -> None:
    breakage.drop_astra_registration(sandbox, "serverless", "westeurope")
    result, paths = check(cmkctl, sandbox)
    assert result.code == 1
    assert broken_only(paths, "astra_registration.westeurope.serverless") == [
        "Astra holds no serverless key for azure region westeurope: the registration is gone"]


def test_the_prometheus_output_parses(cmkctl: Callable[..., Result], sandbox: Path) -> None:
    breakage.disable_key(sandbox, "acme-mongo-eus", "mongo-eus")
    result = cmkctl("check", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--format", "prometheus")
    assert result.code == 1
    families = {family.name: family for family in text_string_to_metric_families(result.out)}
    statuses = {s.labels["consumer"]: s.value for s in families["cmkctl_key_path_status"].samples}
    assert statuses["mongo_cluster.eastus.acme-orders"] == 2
    assert {v for c, v in statuses.items() if c != "mongo_cluster.eastus.acme-orders"} == {0}
    counts = {s.labels["status"]: s.value for s in families["cmkctl_key_paths"].samples}
    assert counts == {"healthy": 8, "warning": 0, "broken": 1}


def test_a_check_costs_no_more_than_half_a_call_per_declared_object(cmkctl: Callable[..., Result],
                                                                  sandbox: Path) -> None:
    before = len(read_calls(sandbox))
    assert cmkctl("plan", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--detailed-exitcode").code == 0
    planned = read_calls(sandbox)[before:]
    assert check(cmkctl, sandbox)[0].code == 0
    checked = read_calls(sandbox)[before + len(planned):]
    assert not any(call["mutating"] for call in checked)
    extra = len(checked) - len(planned)
    assert extra <= 0.5 * DECLARED_OBJECTS, collections.Counter(c["plane"] for c in checked)
    # The plan's reads and nothing more: the unmanaged report's list of the subscription's vaults is not made.
    assert extra == -1, (collections.Counter(c["plane"] for c in planned), collections.Counter(c["plane"] for c in checked))


def test_a_plane_down_breaks_the_paths_through_it_and_the_check_goes_on(cmkctl: Callable[..., Result],
                                                                        sandbox: Path) -> None:
    # Every request to the Astra DevOps API is dropped before Astra sees it, as when its plane is down.
    (sandbox / "faults.yaml").write_text("astra: {drop: 1.0}\n")
    table = cmkctl("check", "-f", ALL_SYSTEMS, "--sandbox", sandbox)
    assert table.code == 1, table.err
    assert "Health of acme-platform: broken (4 healthy, 5 broken)." in table.out, table.err
    assert "mongo_cluster.eastus.acme-orders" in table.out and "Error:" not in table.err
    result, paths = check(cmkctl, sandbox)
    assert result.code == 1, result.err
    reasons = broken_only(paths, *sorted(c for c in CONSUMERS if c.startswith("astra_registration.")))
    assert all("could not be read" in reason for reason in reasons)
    assert any("gave up waiting for the Astra DevOps API to answer" in reason for reason in reasons)
