"""`cmkctl export`: what exists becomes a manifest, and planning that manifest changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
    assert {"confluent": {"key": "kafka-eastus"}} in region["registrations"]
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
    # ARM answers such a vault without the three properties; each reads as its documented default.
    sandbox, exported = tmp_path / "s", tmp_path / "exported.yaml"
    write(sandbox / "world.yaml", SPARSE_WORLD)
    result = cmkctl("export", "-f", EXAMPLE, "--sandbox", sandbox, "--region", "eastus", "--out", exported)
    assert result.code == 0, result.err
    vault = yaml.safe_load(exported.read_text())["regions"][0]["vaults"][0]
    assert vault["name"] == "sparse-kv"
    assert vault["softDeleteRetentionDays"] == 90
    assert vault["authorization"] == "rbac"
    again = cmkctl("plan", "-f", exported, "--sandbox", sandbox, "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
