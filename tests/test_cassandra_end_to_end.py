"""Managed Instance for Apache Cassandra with customer-managed keys, end to end through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cmkctl_sandbox import load_state
from tests.conftest import EXAMPLES, Result, apply_ok, mutating_calls, plan_apply_plan, write

EXAMPLE = EXAMPLES / "cassandra-managed-instance.yaml"
SUB = "22222222-2222-2222-2222-222222222222"
VNET = f"/subscriptions/{SUB}/resourceGroups/cassandra-prod/providers/Microsoft.Network/virtualNetworks/cassandra-vnet"
PASSWORD_VARIABLE = "CASSANDRA_ADMIN_PASSWORD"
CLUSTER = "cassandra_cluster.eastus.acme-cassandra"
POLICY = "azure_access_policy.eastus.acme-cassandra-eastus/cassandra-acme-cassandra"
DC1 = "cassandra_data_center.eastus.acme-cassandra/dc1"
DC2 = "cassandra_data_center.eastus.acme-cassandra/dc2"
KEY_PREFIX = "https://acme-cassandra-eastus.vault.azure.net/keys/cassandra-eastus/"
WORLD_WITHOUT_IDENTITY = f"""
azure:
  vaults:
    - {{subscription: {SUB}, resourceGroup: cassandra-prod, name: acme-cassandra-eastus, location: eastus,
       enableRbacAuthorization: false, enablePurgeProtection: true,
       keys: [{{name: cassandra-eastus, kty: RSA, keySize: 3072}}]}}
  cassandraClusters:
    - {{subscription: {SUB}, resourceGroup: cassandra-prod, name: acme-cassandra, location: East US,
       delegatedManagementSubnetId: {VNET}/subnets/management, cassandraVersion: "4.0",
       dataCenters: [{{name: dc1, dataCenterLocation: East US, delegatedSubnetId: {VNET}/subnets/dc1,
                      nodeCount: 3, sku: Standard_DS14_v2}}]}}
"""


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> str:
    secret = "canary-cassandra-password-7d41"
    monkeypatch.setenv(PASSWORD_VARIABLE, secret)
    return secret


def plan_steps(cmkctl: Callable[..., Result], manifest: Path, sandbox: Path) -> list[dict[str, Any]]:
    result = cmkctl("plan", "-f", manifest, "--sandbox", sandbox, "--format", "json")
    assert result.code == 0, result.err
    steps: list[dict[str, Any]] = json.loads(result.out)["steps"]
    return steps


def cluster_record(sandbox: Path) -> dict[str, Any]:
    record: dict[str, Any] = next(iter(load_state(sandbox)["arm"]["cassandraClusters"].values()))
    return record


def with_second_data_center(text: str, key_version: str = "latest") -> str:
    second = (f"            - name: dc2\n              nodeCount: 3\n              delegatedSubnetId: {VNET}/subnets/dc2\n"
              f"              keyVersion: {key_version}\n")
    return text.rstrip("\n") + "\n" + second


@pytest.fixture
def applied(cmkctl: Callable[..., Result], tmp_path: Path) -> Path:
    apply_ok(cmkctl, EXAMPLE, tmp_path / "sandbox")
    return tmp_path / "sandbox"


def test_fresh_sandbox_plan_apply_plan_converges(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    before, applied = plan_apply_plan(cmkctl, EXAMPLE, sandbox)
    assert "Plan: 7 to create, 0 to update, 0 unchanged, 1 irreversible." in before.out
    assert "objectId       = (known after apply)" in before.out
    assert "Apply complete: 7 changed, 0 failed, 0 skipped." in applied.out


def test_the_cluster_has_its_identity_and_the_data_center_the_versioned_key(applied: Path) -> None:
    state = load_state(applied)
    cluster = cluster_record(applied)
    principal = cluster["resource"]["identity"]["principalId"]
    assert cluster["resource"]["identity"]["type"] == "SystemAssigned"
    policies = state["arm"]["vaults"]["acme-cassandra-eastus"]["resource"]["properties"]["accessPolicies"]
    assert policies == [{"tenantId": "11111111-1111-1111-1111-111111111111", "objectId": principal,
                         "permissions": {"keys": ["get", "unwrapKey", "wrapKey"]}}]
    version = state["arm"]["vaults"]["acme-cassandra-eastus"]["keys"]["cassandra-eastus"]["versions"][-1]["version"]
    dc = cluster["dataCenters"]["dc1"]["properties"]
    assert dc["managedDiskCustomerKeyUri"] == dc["backupStorageCustomerKeyUri"] == KEY_PREFIX + version


def test_cosmos_db_gets_network_contributor_on_the_vnet_before_the_cluster(applied: Path) -> None:
    state = load_state(applied)
    cosmos = next(sp for sp in state["graph"]["servicePrincipals"].values()
                  if sp["appId"] == "a232010e-820c-4083-83bb-3ace5fc29d0b")
    grants = [a for a in state["arm"]["roleAssignments"].values() if a["scope"] == VNET]
    assert [(a["principalId"], a["roleDefinitionId"].rsplit("/", 1)[-1]) for a in grants] == [
        (cosmos["id"], "4d97b98b-1d4f-4787-a291-c67834d212e7")]
    calls = mutating_calls(applied)
    grant_at = max(i for i, c in enumerate(calls) if "virtualNetworks" in c["path"] and c["status"] < 300)
    cluster_at = next(i for i, c in enumerate(calls) if c["path"].endswith("cassandraClusters/acme-cassandra"))
    assert grant_at < cluster_at


def test_the_plan_explains_the_network_grant(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", tmp_path / "s")
    assert "azure_role_assignment.eastus.vnet/cassandra-prod/cassandra-vnet/network-contributor/cosmos-db will be created" in result.out
    assert "prerequisite of Managed Instance for Apache Cassandra: the Azure Cosmos DB service principal" in result.out


def test_existing_cluster_without_identity_gets_identity_then_policy_then_keys(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "world.yaml", WORLD_WITHOUT_IDENTITY)
    steps = plan_steps(cmkctl, EXAMPLE, sandbox)
    by_address = {s["address"]: s for s in steps}
    order = [s["address"] for s in steps]
    assert by_address[CLUSTER]["actions"] == ["update"]
    assert [c["name"] for c in by_address[CLUSTER]["changes"]] == ["identityType"]
    assert by_address[POLICY]["actions"] == ["create"]
    assert by_address[DC1]["actions"] == ["update"]
    assert [c["name"] for c in by_address[DC1]["changes"]] == ["managedDiskCustomerKeyUri",
                                                               "backupStorageCustomerKeyUri"]
    assert order.index(CLUSTER) < order.index(POLICY) < order.index(DC1)

    result = cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve")
    assert result.code == 0, result.out + result.err
    paths = [(c["method"], c["path"].rsplit("/", 2)[-2:]) for c in mutating_calls(sandbox)]
    identity_at = paths.index(("PATCH", ["cassandraClusters", "acme-cassandra"]))
    policy_at = paths.index(("PUT", ["accessPolicies", "add"]))
    keys_at = paths.index(("PATCH", ["dataCenters", "dc1"]))
    assert identity_at < policy_at < keys_at
    assert cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--detailed-exitcode").code == 0


def test_a_new_key_version_updates_the_following_data_center_only(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    sandbox = tmp_path / "sandbox"
    both_latest = write(tmp_path / "latest.yaml", with_second_data_center(EXAMPLE.read_text()))
    assert cmkctl("apply", "-f", both_latest, "--sandbox", sandbox, "--auto-approve").code == 0
    first = load_state(sandbox)["arm"]["vaults"]["acme-cassandra-eastus"]["keys"]["cassandra-eastus"]["versions"][0]
    pinned = write(tmp_path / "pinned.yaml", with_second_data_center(EXAMPLE.read_text(), first["version"]))
    assert cmkctl("plan", "-f", pinned, "--sandbox", sandbox, "--detailed-exitcode").code == 0

    rotated = cmkctl("sandbox", "rotate-key", sandbox, "acme-cassandra-eastus", "cassandra-eastus")
    assert rotated.code == 0, rotated.err
    new_uri = rotated.out.strip()
    assert new_uri.startswith(KEY_PREFIX) and not new_uri.endswith(first["version"])

    assert cmkctl("plan", "-f", pinned, "--sandbox", sandbox, "--detailed-exitcode").code == 2
    changed = [s for s in plan_steps(cmkctl, pinned, sandbox) if s["actions"] != ["no-op"]]
    assert [s["address"] for s in changed] == [DC1]
    assert {c["name"]: c["after"] for c in changed[0]["changes"]} == {
        "managedDiskCustomerKeyUri": new_uri, "backupStorageCustomerKeyUri": new_uri}

    assert cmkctl("apply", "-f", pinned, "--sandbox", sandbox, "--auto-approve").code == 0
    centers = cluster_record(sandbox)["dataCenters"]
    assert centers["dc1"]["properties"]["managedDiskCustomerKeyUri"] == new_uri
    assert centers["dc2"]["properties"]["managedDiskCustomerKeyUri"] == KEY_PREFIX + first["version"]
    assert cmkctl("plan", "-f", pinned, "--sandbox", sandbox, "--detailed-exitcode").code == 0


def test_a_vault_without_purge_protection_exits_3_at_plan_and_nothing_changes(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    sandbox = tmp_path / "sandbox"
    text = EXAMPLE.read_text().replace("purgeProtection: true", "purgeProtection: false")
    manifest = write(tmp_path / "m.yaml", text)
    for command in (("plan",), ("apply", "--auto-approve")):
        result = cmkctl(*command, "-f", manifest, "--sandbox", sandbox)
        assert result.code == 3, result.out + result.err
        assert "Datacenter deployments will fail without it" in result.err
        assert "[R-CASSANDRA-PURGE]" in result.err
        assert "Traceback" not in result.err
    assert mutating_calls(sandbox) == []
    assert cmkctl("validate", manifest).code == 3


def test_the_rbac_equivalent_grants_a_role_instead_of_an_access_policy(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    text = EXAMPLE.read_text().replace("authorization: accessPolicies", "authorization: rbac").replace(
        "    accessPolicies:\n      - vault: acme-cassandra-eastus\n",
        "    roleAssignments:\n      - role: Key Vault Crypto Service Encryption User\n        vault: acme-cassandra-eastus\n",
    ).replace("        keys: [get, wrapKey, unwrapKey]\n", "")
    manifest = write(tmp_path / "rbac.yaml", text)
    sandbox = tmp_path / "sandbox"
    result = cmkctl("apply", "-f", manifest, "--sandbox", sandbox, "--auto-approve")
    assert result.code == 0, result.out + result.err
    principal = cluster_record(sandbox)["resource"]["identity"]["principalId"]
    roles = [a for a in load_state(sandbox)["arm"]["roleAssignments"].values() if a["principalId"] == principal]
    assert [a["roleDefinitionId"].rsplit("/", 1)[-1] for a in roles] == ["e147488a-f6f5-4113-8e2d-b22465e65bf6"]
    assert cmkctl("plan", "-f", manifest, "--sandbox", sandbox, "--detailed-exitcode").code == 0


def test_the_password_never_leaves(cmkctl: Callable[..., Result], tmp_path: Path, password: str) -> None:
    sandbox, saved = tmp_path / "sandbox", tmp_path / "plan.json"
    outputs = [
        cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--out", saved),
        cmkctl("apply", saved, "--sandbox", sandbox),
        cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--format", "json"),
        cmkctl("show", saved, "--format", "markdown"),
        cmkctl("sandbox", "show", sandbox),
    ]
    assert all(r.code == 0 for r in outputs), outputs
    assert PASSWORD_VARIABLE in outputs[0].out  # the plan names where the password comes from
    written = [r.out + r.err for r in outputs] + [p.read_text(errors="replace") for p in tmp_path.rglob("*")
                                                  if p.is_file()]
    assert not [text for text in written if password in text]


def test_a_missing_password_variable_fails_the_apply_before_any_change(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Failing only the cluster step (and skipping its data centers) left a purge-protected vault behind.
    monkeypatch.delenv(PASSWORD_VARIABLE)
    sandbox = tmp_path / "sandbox"
    result = cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve")
    assert result.code == 1
    assert f"the environment variable {PASSWORD_VARIABLE} (initialAdminPasswordFrom) is not set" in result.err
    assert mutating_calls(sandbox) == []
    assert "Traceback" not in result.err
    assert not load_state(sandbox)["arm"].get("cassandraClusters")


def test_two_vnets_of_one_name_in_different_groups_get_a_grant_each(cmkctl: Callable[..., Result],
                                                                    tmp_path: Path) -> None:
    other_vnet = VNET.replace("resourceGroups/cassandra-prod", "resourceGroups/cassandra-dr")
    text = with_second_data_center(EXAMPLE.read_text()).replace(f"{VNET}/subnets/dc2", f"{other_vnet}/subnets/dc2")
    result = cmkctl("plan", "-f", write(tmp_path / "m.yaml", text), "--sandbox", tmp_path / "s", "--format", "json")
    grants = [s["identity"]["scope"] for s in json.loads(result.out)["steps"] if "/network-contributor/" in s["address"]]
    assert sorted(grants) == sorted([VNET, other_vnet])
