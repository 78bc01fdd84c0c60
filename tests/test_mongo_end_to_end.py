"""Mongo vCore with a customer-managed key, end to end against the sandbox, through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cmkctl_sandbox import Sandbox, load_state
from tests.conftest import EXAMPLES, Result, apply_ok, mutating_calls, plan_apply_plan, write
from tests.sandbox.conftest import client_for

EXAMPLE = EXAMPLES / "mongo-vcore.yaml"
SUBSCRIPTION = "22222222-2222-2222-2222-222222222222"
CLUSTER = f"{SUBSCRIPTION}/data-prod/orders-mongo"
IDENTITY_ID = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/cmk-prod/providers/Microsoft.ManagedIdentity/"
               "userAssignedIdentities/orders-mongo-cmk")
PASSWORD = "canary-3f9e1b7c-mongo-admin-password"
MSI_API = {"api-version": "2024-11-30"}
MONGO_API = {"api-version": "2026-06-01"}


@pytest.fixture(autouse=True)
def admin_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGO_ADMIN_PASSWORD", PASSWORD)


def cluster_in(sandbox: Path) -> dict[str, Any]:
    found: dict[str, Any] = load_state(sandbox)["arm"]["mongoClusters"][CLUSTER.lower()]
    return found


def with_key(tmp_path: Path, key: str) -> Path:
    """The example with its key renamed (a new key in the same vault)."""
    text = EXAMPLE.read_text().replace("- name: orders-mongo\n", f"- name: {key}\n").replace(
        "key: orders-mongo\n", f"key: {key}\n")
    return write(tmp_path / "changed.yaml", text)


@pytest.fixture
def applied(cmkctl: Callable[..., Result], tmp_path: Path) -> Path:
    apply_ok(cmkctl, EXAMPLE, tmp_path / "sandbox")
    return tmp_path / "sandbox"


def test_plan_apply_plan_converges(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    before, applied = plan_apply_plan(cmkctl, EXAMPLE, sandbox)
    assert "Plan: 5 to create, 0 to update, 0 unchanged, 2 irreversible." in before.out
    assert "encryption mode (customer-managed key) is fixed at creation" in before.out
    assert "Apply complete: 5 changed, 0 failed, 0 skipped." in applied.out


def test_cluster_carries_the_identity_and_the_versionless_key(applied: Path) -> None:
    cluster = cluster_in(applied)
    attached = {k.lower() for k in cluster["identity"]["userAssignedIdentities"]}
    assert IDENTITY_ID.lower() in attached
    cmk = cluster["properties"]["encryption"]["customerManagedKeyEncryption"]
    assert cmk["keyEncryptionKeyIdentity"] == {"identityType": "UserAssignedIdentity",
                                               "userAssignedIdentityResourceId": IDENTITY_ID}
    assert cmk["keyEncryptionKeyUrl"] == "https://acme-mongo-eastus.vault.azure.net/keys/orders-mongo"


def test_the_cluster_waits_for_the_identity_and_its_grant(applied: Path) -> None:
    paths = [c["path"] for c in mutating_calls(applied)]
    cluster = next(i for i, p in enumerate(paths) if "/mongoClusters/" in p)
    assert any("userAssignedIdentities" in p for p in paths[:cluster])
    assert any("roleAssignments" in p for p in paths[:cluster])


def test_the_identity_holds_the_encryption_role_on_the_vault(applied: Path) -> None:
    state = load_state(applied)
    identity = state["arm"]["userAssignedIdentities"][f"{SUBSCRIPTION}/cmk-prod/orders-mongo-cmk"]
    principal = identity["properties"]["principalId"]
    granted = [a for a in state["arm"]["roleAssignments"].values() if a["principalId"] == principal]
    assert len(granted) == 1
    assert granted[0]["scope"].endswith("/vaults/acme-mongo-eastus")
    assert granted[0]["roleDefinitionId"].endswith("e147488a-f6f5-4113-8e2d-b22465e65bf6")
    assert granted[0]["principalType"] == "ServicePrincipal"


def test_a_new_key_is_one_update_carrying_identity_and_key(
    cmkctl: Callable[..., Result], applied: Path, tmp_path: Path
) -> None:
    manifest = with_key(tmp_path, "orders-mongo-v2")
    plan = cmkctl("plan", "-f", manifest, "--sandbox", applied, "--format", "json")
    steps = {s["address"]: s for s in json.loads(plan.out)["steps"]}
    cluster = steps["mongo_cluster.eastus.orders-mongo"]
    assert cluster["actions"] == ["update"]
    assert [c["name"] for c in cluster["changes"]] == ["customerManagedKeyEncryption"]
    after = cluster["changes"][0]["after"]
    assert after["keyEncryptionKeyIdentity"]["userAssignedIdentityResourceId"] == IDENTITY_ID
    assert "keyEncryptionKeyUrl" in after
    assert [a for a, s in steps.items() if s["actions"] == ["update"]] == ["mongo_cluster.eastus.orders-mongo"]

    before = len(mutating_calls(applied))  # the first apply's own PATCHes, while its grant propagated
    result = cmkctl("apply", "-f", manifest, "--sandbox", applied, "--auto-approve")
    assert result.code == 0, result.out + result.err
    patches = [c for c in mutating_calls(applied)[before:] if c["method"] == "PATCH"]
    assert [(c["status"], c["path"].rsplit("/", 1)[-1]) for c in patches] == [(202, "orders-mongo")]
    cmk = cluster_in(applied)["properties"]["encryption"]["customerManagedKeyEncryption"]
    assert cmk["keyEncryptionKeyUrl"] == "https://acme-mongo-eastus.vault.azure.net/keys/orders-mongo-v2"
    assert cmk["keyEncryptionKeyIdentity"]["userAssignedIdentityResourceId"] == IDENTITY_ID
    assert cmkctl("plan", "-f", manifest, "--sandbox", applied, "--detailed-exitcode").code == 0


def test_an_existing_service_managed_cluster_is_refused_at_plan(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "world.yaml", f"""
azure:
  mongoClusters:
    - {{subscription: {SUBSCRIPTION}, resourceGroup: data-prod, name: orders-mongo, location: eastus}}
""")
    for command in (("plan",), ("apply", "--auto-approve")):
        result = cmkctl(*command, "-f", EXAMPLE, "--sandbox", sandbox)
        assert result.code == 3, result.out + result.err
        assert "mongo_cluster.eastus.orders-mongo" in result.err
        assert "encryptionMode" in result.err
        assert "replica" in result.err and "restore" in result.err
        assert "Traceback" not in result.err
    assert mutating_calls(sandbox) == []
    assert "encryption" not in cluster_in(sandbox)["properties"]


def test_an_existing_customer_key_cluster_is_adopted(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "world.yaml", f"""
azure:
  userAssignedIdentities:
    - {{subscription: {SUBSCRIPTION}, resourceGroup: cmk-prod, name: orders-mongo-cmk, location: eastus}}
  vaults:
    - {{subscription: {SUBSCRIPTION}, resourceGroup: cmk-prod, name: acme-mongo-eastus, location: eastus,
       enablePurgeProtection: true, keys: [{{name: orders-mongo, kty: RSA, keySize: 3072}}]}}
  mongoClusters:
    - {{subscription: {SUBSCRIPTION}, resourceGroup: data-prod, name: orders-mongo, location: eastus,
       identity: orders-mongo-cmk, keyEncryptionKeyUrl: "https://acme-mongo-eastus.vault.azure.net/keys/orders-mongo"}}
""")
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--format", "json")
    steps = {s["address"]: s for s in json.loads(result.out)["steps"]}
    assert steps["mongo_cluster.eastus.orders-mongo"]["actions"] == ["no-op"]
    assert steps["azure_user_assigned_identity.eastus.orders-mongo-cmk"]["actions"] == ["no-op"]


def test_the_password_appears_in_no_output_plan_file_or_log(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox, saved = tmp_path / "sandbox", tmp_path / "plan.json"
    outputs = [cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--out", saved)]
    assert '"env": "MONGO_ADMIN_PASSWORD", "sensitive": true' in outputs[0].out
    for fmt in ("json", "markdown"):
        outputs.append(cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--format", fmt))
    outputs.append(cmkctl("show", saved))
    outputs.append(cmkctl("apply", saved, "--sandbox", sandbox))
    assert outputs[-1].code == 0, outputs[-1].out + outputs[-1].err
    outputs.append(cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox))
    for result in outputs:
        assert PASSWORD not in result.out + result.err
    # Every file the runs wrote: the plan, crash logs (CMKCTL_LOG_DIR), the sandbox's state and call log.
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert saved in written and (sandbox / "state.json") in written
    for path in written:
        assert PASSWORD.encode() not in path.read_bytes(), path


def test_a_missing_password_variable_fails_the_cluster_only(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONGO_ADMIN_PASSWORD")
    sandbox = tmp_path / "sandbox"
    result = cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve")
    assert result.code == 1
    assert "MONGO_ADMIN_PASSWORD" in result.out + result.err
    assert "mongoClusters" not in json.dumps([c["path"] for c in mutating_calls(sandbox)])


def test_an_access_policy_vault_grants_through_its_policy(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("authorization: rbac", "authorization: accessPolicies").replace(
        """    roleAssignments:
      - role: Key Vault Crypto Service Encryption User
        vault: acme-mongo-eastus
        principal: {identity: orders-mongo-cmk}
""", """    accessPolicies:
      - vault: acme-mongo-eastus
        principal: {identity: orders-mongo-cmk}
        keys: [get, wrapKey, unwrapKey]
""")
    manifest, sandbox = write(tmp_path / "policies.yaml", text), tmp_path / "sandbox"
    result = cmkctl("apply", "-f", manifest, "--sandbox", sandbox, "--auto-approve")
    assert result.code == 0, result.out + result.err
    state = load_state(sandbox)
    principal = state["arm"]["userAssignedIdentities"][f"{SUBSCRIPTION}/cmk-prod/orders-mongo-cmk"]["properties"][
        "principalId"]
    policies = state["arm"]["vaults"]["acme-mongo-eastus"]["resource"]["properties"]["accessPolicies"]
    assert [set(p["permissions"]["keys"]) for p in policies if p["objectId"] == principal] == [
        {"get", "wrapKey", "unwrapKey"}]
    assert state["arm"]["roleAssignments"] == {}
    assert "customerManagedKeyEncryption" in json.dumps(cluster_in(sandbox))
    assert cmkctl("plan", "-f", manifest, "--sandbox", sandbox, "--detailed-exitcode").code == 0


def test_an_identity_someone_else_attached_survives_a_key_update(
    cmkctl: Callable[..., Result], applied: Path, tmp_path: Path
) -> None:
    theirs = IDENTITY_ID.replace("orders-mongo-cmk", "backup-agent")
    with Sandbox(applied) as sandbox, client_for(sandbox) as client:
        made = client.put(theirs, params=MSI_API, json={"location": "eastus"})
        assert made.status_code in (200, 201), made.text
        attached = {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY_ID: {}, theirs: {}}}
        cluster = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/data-prod/providers/Microsoft.DocumentDB/" \
                  "mongoClusters/orders-mongo"
        assert client.patch(cluster, params=MONGO_API, json={"identity": attached}).status_code == 202
    result = cmkctl("apply", "-f", with_key(tmp_path, "orders-mongo-v2"), "--sandbox", applied, "--auto-approve")
    assert result.code == 0, result.out + result.err
    held = {k.lower() for k in cluster_in(applied)["identity"]["userAssignedIdentities"]}
    assert held == {IDENTITY_ID.lower(), theirs.lower()}
