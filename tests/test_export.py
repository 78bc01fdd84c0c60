"""`cmkctl export`: what exists becomes a manifest, and planning that manifest changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLES, Result, write

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"


def test_export_of_an_applied_example_plans_no_changes(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox, exported = tmp_path / "s", tmp_path / "exported.yaml"
    assert cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve").code == 0
    result = cmkctl("export", "-f", EXAMPLE, "--sandbox", sandbox, "--region", "eastus", "--region", "westus2",
                    "--out", exported)
    assert result.code == 0, result.err
    manifest = yaml.safe_load(exported.read_text())
    eastus = manifest["regions"][0]
    assert eastus["registrations"] == [{"astra": {"product": "serverless", "key": "astra-eastus"}}]
    assert eastus["roleAssignments"] == [{"role": "Key Vault Crypto Service Encryption User",
                                          "vault": "acme-astra-eastus", "principal": {"astra": "serverless"}}]
    assert cmkctl("validate", exported).code == 0
    again = cmkctl("plan", "-f", exported, "--sandbox", sandbox, "--detailed-exitcode")
    assert again.code == 0, again.out + again.err


def test_export_adopts_what_was_made_by_hand(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox, exported = tmp_path / "s", tmp_path / "exported.yaml"
    write(sandbox / "world.yaml", """
azure:
  servicePrincipals:
    - {appId: 44444444-4444-4444-4444-444444444444, objectId: 55555555-5555-5555-5555-555555555555}
  vaults:
    - {subscription: 22222222-2222-2222-2222-222222222222, resourceGroup: by-hand, name: handmade-kv,
       location: eastus, enableRbacAuthorization: true, keys: [{name: cmk, kty: RSA, keySize: 2048}]}
    - {subscription: 22222222-2222-2222-2222-222222222222, resourceGroup: by-hand, name: elsewhere-kv,
       location: westeurope}
  roleAssignments:
    - {scope: /subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/by-hand/providers/Microsoft.KeyVault/vaults/handmade-kv,
       role: Key Vault Crypto User, principalId: 55555555-5555-5555-5555-555555555555}
""")
    result = cmkctl("export", "-f", EXAMPLE, "--sandbox", sandbox, "--region", "eastus", "--out", exported)
    assert result.code == 0, result.err
    region = yaml.safe_load(exported.read_text())["regions"][0]
    assert [v["name"] for v in region["vaults"]] == ["handmade-kv"]
    assert region["vaults"][0]["purgeProtection"] is False
    assert region["keys"] == [{"name": "cmk", "vault": "handmade-kv", "type": "RSA", "size": 2048}]
    assert region["roleAssignments"][0]["principal"] == {"servicePrincipal": "44444444-4444-4444-4444-444444444444"}
    again = cmkctl("plan", "-f", exported, "--sandbox", sandbox, "--detailed-exitcode")
    assert again.code == 0, again.out + again.err


def test_export_carries_confluent_registrations_and_their_grants(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    example = EXAMPLES / "confluent-azure-byok.yaml"
    sandbox, exported = tmp_path / "s", tmp_path / "exported.yaml"
    assert cmkctl("apply", "-f", example, "--sandbox", sandbox, "--auto-approve").code == 0
    result = cmkctl("export", "-f", example, "--sandbox", sandbox, "--region", "eastus", "--out", exported)
    assert result.code == 0, result.err
    region = yaml.safe_load(exported.read_text())["regions"][0]
    # The key comes out with the Dedicated cluster it encrypts.
    assert {"confluent": {"key": "kafka-eastus", "cluster": {"name": "orders", "availability": "MULTI_ZONE",
                                                             "cku": 2}}} in region["registrations"]
    assert {a["principal"]["confluent"] for a in region["roleAssignments"]} == {"kafka-eastus"}
    assert cmkctl("validate", exported).code == 0
    assert cmkctl("plan", "-f", exported, "--sandbox", sandbox, "--detailed-exitcode").code == 0


SPARSE_WORLD = """
azure:
  vaults:
    - {subscription: 22222222-2222-2222-2222-222222222222, resourceGroup: by-hand, name: sparse-kv,
       location: eastus, keys: [{name: cmk, kty: RSA, keySize: 3072}]}
"""


def test_a_vault_made_without_retention_rbac_or_network_rules_is_adopted_without_drift(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    # ARM answers such a vault without the three properties; each reads as its documented default, and a
    # vault that does not say it uses RBAC uses access policies.
    sandbox, exported = tmp_path / "s", tmp_path / "exported.yaml"
    write(sandbox / "world.yaml", SPARSE_WORLD)
    result = cmkctl("export", "-f", EXAMPLE, "--sandbox", sandbox, "--region", "eastus", "--out", exported)
    assert result.code == 0, result.err
    vault = yaml.safe_load(exported.read_text())["regions"][0]["vaults"][0]
    assert vault["name"] == "sparse-kv"
    assert vault["softDeleteRetentionDays"] == 90
    assert vault["authorization"] == "accessPolicies"
    again = cmkctl("plan", "-f", exported, "--sandbox", sandbox, "--detailed-exitcode")
    assert again.code == 0, again.out + again.err


ACCOUNTS = """
apiVersion: cmkctl/v1
kind: KeySet
metadata:
  name: acme-platform
accounts:
  azure:
    tenantId: 11111111-1111-1111-1111-111111111111
    subscriptionId: 22222222-2222-2222-2222-222222222222
  aws:
    accountId: "123456789012"
  astra:
    organizationId: 33333333-3333-3333-3333-333333333333
  confluent:
    environmentId: env-a1b2c3
"""
ALL_REGIONS = ("eastus", "westeurope", "us-east-2", "eu-west-1")


def _addresses(result: Result) -> list[str]:
    return sorted(step["address"] for step in json.loads(result.out)["steps"])


def test_a_world_of_every_kind_exported_from_an_accounts_file_plans_no_changes(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASSANDRA_ADMIN_PASSWORD", "sandbox-only-1")
    monkeypatch.setenv("MONGO_ADMIN_PASSWORD", "sandbox-only-2")
    sandbox, folder = tmp_path / "s", tmp_path / "cmk"
    example = EXAMPLES / "all-systems.yaml"
    assert cmkctl("apply", "-f", example, "--sandbox", sandbox, "--auto-approve").code == 0
    monkeypatch.delenv("CASSANDRA_ADMIN_PASSWORD")
    monkeypatch.delenv("MONGO_ADMIN_PASSWORD")
    accounts = write(folder / "accounts.yaml", ACCOUNTS)
    regions = [arg for region in ALL_REGIONS for arg in ("--region", region)]
    result = cmkctl("export", "-f", accounts, "--sandbox", sandbox, *regions, "--out", folder / "exported.yaml")
    assert result.code == 0, result.err
    # Only what the caller may not read is skipped: two keys' rotation policies, behind an access policy
    # without getrotationpolicy and behind a firewall; each is said, on stderr and in the file.
    unread = [
        "the rotation policy of key acme-cass-eus/cass-eus (Key Vault refused to read it: vault acme-cass-eus's "
        "access policies give the caller no getrotationpolicy key permission (Forbidden): add one for it (with "
        "setrotationpolicy to change the policy))",
        "the rotation policy of key acme-kafka-eus/kafka-eus (Key Vault refused to read it: Key Vault's firewall "
        "refused the caller (ForbiddenByFirewall): let the address cmkctl runs from through vault acme-kafka-eus's "
        "network rules (an IP rule, a virtual-network rule or a private endpoint))"]
    assert result.err.splitlines() == [f"not exported: {line}" for line in unread]
    text = (folder / "exported.yaml").read_text()
    assert [line for line in text.splitlines() if "not exported" in line] == [f"# not exported: {u}" for u in unread]
    assert "&id" not in text and "*id" not in text
    exported = {r["name"]: r for r in yaml.safe_load(text)["regions"]}
    assert exported["us-east-2"]["cloud"] == "aws"
    assert [k["alias"] for k in exported["eu-west-1"]["keys"]] == ["alias/acme-astra-classic-euw1",
                                                                 "alias/acme-astra-serverless-euw1"]
    eastus = exported["eastus"]
    assert eastus["identities"] == [{"name": "acme-mongo-cmk-eus", "resourceGroup": "cmk-prod"}]
    assert {"role": "Key Vault Crypto Service Encryption User", "vault": "acme-mongo-eus",
            "principal": {"identity": "acme-mongo-cmk-eus"}} in eastus["roleAssignments"]
    assert eastus["accessPolicies"] == [{"vault": "acme-cass-eus", "principal": {"cassandraCluster": "acme-cassandra"},
                                         "keys": ["get", "unwrapKey", "wrapKey"]}]
    kinds = [next(iter(r)) for r in eastus["registrations"]]
    assert kinds == ["astra", "confluent", "cassandra", "mongo"]
    assert cmkctl("validate", folder).code == 0
    again = cmkctl("plan", "-f", folder, "--sandbox", sandbox, "--detailed-exitcode", "--format", "json")
    assert again.code == 0, again.out + again.err
    # The exported manifest declares every object the example does, no more, no fewer.
    assert _addresses(again) == _addresses(cmkctl("plan", "-f", example, "--sandbox", sandbox, "--format", "json"))


def test_an_accounts_file_is_valid_alone_and_joins_its_key_set(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    accounts = write(tmp_path / "cmk" / "accounts.yaml", ACCOUNTS)
    assert cmkctl("validate", accounts).code == 0
    write(tmp_path / "cmk" / "eastus.yaml", ACCOUNTS.replace("accounts:\n  azure", "regions:\n  - {name: eastus, cloud: "
                                          "azure, vaults: [{name: acme-kv-eus, resourceGroup: cmk}]}\naccounts:\n  azure"))
    result = cmkctl("validate", tmp_path / "cmk")
    assert result.code == 0, result.err
    assert "1 key set(s) valid: acme-platform" in result.out


def test_an_accounts_file_that_names_another_account_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    write(tmp_path / "cmk" / "accounts.yaml", ACCOUNTS.replace('"123456789012"', '"210987654321"'))
    write(tmp_path / "cmk" / "eastus.yaml", ACCOUNTS.replace("accounts:\n  azure", "regions:\n  - {name: eastus, cloud: "
                                          "azure, vaults: [{name: acme-kv-eus, resourceGroup: cmk}]}\naccounts:\n  azure"))
    result = cmkctl("validate", tmp_path / "cmk")
    assert result.code == 3
    assert "[E-ACCOUNTS]" in result.err and "aws_account_id is '210987654321'" in result.err


def test_export_as_json_carries_the_manifest_and_what_was_not_exported(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    sandbox = tmp_path / "s"
    write(sandbox / "world.yaml", SPARSE_WORLD)
    result = cmkctl("export", "-f", EXAMPLE, "--sandbox", sandbox, "--region", "eastus", "--format", "json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["manifest"]["regions"][0]["vaults"][0]["name"] == "sparse-kv"
    assert document["not_exported"] == [
        "the rotation policy of key sparse-kv/cmk (Key Vault refused to read it: vault sparse-kv's access policies "
        "give the caller no getrotationpolicy key permission (Forbidden): add one for it (with setrotationpolicy to "
        "change the policy))"]


def test_live_statements_a_manifest_could_not_declare_are_left_out_and_said(tmp_path: Path,
                                                                            cmkctl: Callable[..., Result]) -> None:
    from reconciler.core import kms_policy
    from reconciler.engine import export_services

    kept = {"Sid": "Added by hand", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/ops"},
            "Action": "kms:Describe*", "Resource": "*"}
    hostile = {**kept, "Sid": "Fake\n```\n**No changes. Live state matches the manifests.**\n<!--"}
    orphan = {**kept, "Sid": "Orphan", "Principal": {"AWS": "AROAKSCDLFT9R5DQP782U"}}  # a deleted role's ID
    policy = {"Version": kms_policy.POLICY_VERSION, "Statement": [kept, hostile, orphan]}
    skipped: list[str] = []
    (key,) = export_services.kms_keys([{"alias": "alias/k", "description": "", "enableKeyRotation": True,
                                        "policyDocument": json.dumps(policy)}], "123456789012", {}, skipped)
    assert [s["Sid"] for s in key["policy"]["statements"]] == ["Added by hand"]
    assert len(skipped) == 2 and "'Orphan'" in skipped[1] and "its Sid is not letters, digits and spaces" in skipped[0]
    manifest = yaml.safe_load(ACCOUNTS) | {"regions": [{"name": "us-east-2", "cloud": "aws", "keys": [key]}]}
    assert cmkctl("validate", write(tmp_path / "exported.yaml", yaml.safe_dump(manifest))).code == 0


def test_a_keys_rotation_policy_is_exported_and_the_export_plans_no_changes(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    sandbox, exported, example = tmp_path / "s", tmp_path / "exported.yaml", EXAMPLES / "key-rotation.yaml"
    assert cmkctl("apply", "-f", example, "--sandbox", sandbox, "--auto-approve").code == 0
    result = cmkctl("export", "-f", example, "--sandbox", sandbox, "--region", "eastus", "--out", exported)
    assert result.code == 0, result.err
    keys = yaml.safe_load(exported.read_text())["regions"][0]["keys"]
    assert keys == [{"name": "astra-eastus", "vault": "acme-rotation-eastus", "type": "RSA", "size": 3072,
                     "rotation": {"rotateAfter": "P1Y", "expiresAfter": "P2Y", "notifyBefore": "P30D"}}]
    assert "# not exported:" not in exported.read_text()
    again = cmkctl("plan", "-f", exported, "--sandbox", sandbox, "--detailed-exitcode")
    assert again.code == 0, again.out + again.err


def test_a_key_never_given_a_policy_exports_no_rotation_block(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    sandbox, exported = tmp_path / "s", tmp_path / "exported.yaml"
    assert cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve").code == 0
    assert cmkctl("export", "-f", EXAMPLE, "--sandbox", sandbox, "--region", "eastus", "--out", exported).code == 0
    assert all("rotation" not in key for key in yaml.safe_load(exported.read_text())["regions"][0]["keys"])
