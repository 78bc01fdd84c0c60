"""Astra DB Serverless on Azure Key Vault, end to end against the sandbox, through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cmkctl_sandbox import load_state
from cmkctl_sandbox.state import read_calls
from tests.conftest import EXAMPLES, Result, apply_ok, mutating_calls, plan_apply_plan, write

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"
ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"


def assignments_by_vault(state: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for assignment in state["arm"]["roleAssignments"].values():
        vault = assignment["scope"].rsplit("/", 1)[-1]
        found.setdefault(vault, []).append(assignment)
    return found


@pytest.fixture
def applied(cmkctl: Callable[..., Result], tmp_path: Path) -> Path:
    apply_ok(cmkctl, EXAMPLE, tmp_path / "sandbox")
    return tmp_path / "sandbox"


def test_plan_apply_plan_converges(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    before, applied = plan_apply_plan(cmkctl, EXAMPLE, sandbox)
    assert "Plan: 12 to create, 0 to update, 0 unchanged, 4 irreversible." in before.out
    assert "principalId      = (known after apply)" in before.out
    assert "Apply complete: 12 changed, 0 failed, 0 skipped." in applied.out


def test_two_provider_ids_in_eastus_one_in_westus2(cmkctl: Callable[..., Result], applied: Path) -> None:
    state = load_state(applied)
    assert len(state["graph"]["servicePrincipals"]) == 3
    by_vault = assignments_by_vault(state)
    assert {vault: len(found) for vault, found in by_vault.items()} == {"acme-astra-eastus": 2, "acme-astra-westus2": 1}
    for found in by_vault.values():
        for assignment in found:
            assert assignment["roleDefinitionId"].endswith(ENCRYPTION_USER)
            assert assignment["principalType"] == "ServicePrincipal"
    shown = cmkctl("sandbox", "show", applied)
    assert shown.code == 0
    assert shown.out.count("Key Vault Crypto Service Encryption User") == 3


def test_registration_carries_the_versionless_key_and_the_region(applied: Path) -> None:
    registrations = json.dumps(load_state(applied)["astra"])
    assert "https://acme-astra-eastus.vault.azure.net/keys/astra-eastus\"" in registrations
    assert "https://acme-astra-westus2.vault.azure.net/keys/astra-westus2\"" in registrations
    assert "/keys/astra-eastus/" not in registrations


def test_registration_waits_for_the_grants(applied: Path) -> None:
    calls = [c for c in read_calls(applied) if c["mutating"]]
    registrations = [i for i, c in enumerate(calls) if c["path"] == "/v2/kms"]
    grants = [i for i, c in enumerate(calls) if "roleAssignments" in c["path"] and c["status"] < 300]
    assert len(registrations) == 2 and len(grants) == 3
    assert max(grants) < max(registrations)


def test_second_apply_makes_no_mutating_call(cmkctl: Callable[..., Result], applied: Path) -> None:
    before = len(mutating_calls(applied))
    again = cmkctl("apply", "-f", EXAMPLE, "--sandbox", applied, "--auto-approve")
    assert again.code == 0
    assert "No changes." in again.out
    assert len(mutating_calls(applied)) == before


def test_a_different_key_for_a_registered_region_is_forbidden(
    cmkctl: Callable[..., Result], applied: Path, tmp_path: Path
) -> None:
    text = EXAMPLE.read_text().replace("name: astra-eastus\n", "name: astra-eastus-v2\n").replace(
        "key: astra-eastus}", "key: astra-eastus-v2}")
    manifest = write(tmp_path / "changed.yaml", text)
    before = len(mutating_calls(applied))
    for command in (("plan",), ("apply", "--auto-approve")):
        result = cmkctl(*command, "-f", manifest, "--sandbox", applied)
        assert result.code == 3, result.out + result.err
        assert "astra_registration.eastus.serverless" in result.err
        assert "support ticket" in result.err
        assert "Traceback" not in result.err
    assert len(mutating_calls(applied)) == before


def test_apply_without_approval_changes_nothing(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    result = cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, terminal="no\n")
    assert result.code == 1
    assert "nothing was changed" in result.err
    assert mutating_calls(sandbox) == []


def test_saved_plan_applies_and_then_is_stale(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox, saved = tmp_path / "sandbox", tmp_path / "plan.json"
    assert cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--out", saved).code == 0
    shown = cmkctl("show", saved)
    assert "Plan: 12 to create" in shown.out
    first = cmkctl("apply", saved, "--sandbox", sandbox)
    assert first.code == 0, first.out + first.err
    assert cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--detailed-exitcode").code == 0
    again = cmkctl("apply", saved, "--sandbox", sandbox)
    assert again.code == 1
    assert "stale" in again.err and "azure_vault.eastus.acme-astra-eastus changed" in again.err


def test_altered_plan_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox, saved = tmp_path / "sandbox", tmp_path / "plan.json"
    assert cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--out", saved).code == 0
    saved.write_text(saved.read_text().replace("\"sku\": \"standard\"", "\"sku\": \"premium\"", 1))
    result = cmkctl("apply", saved, "--sandbox", sandbox)
    assert result.code == 1
    assert "altered" in result.err
    assert mutating_calls(sandbox) == []


def test_json_plan_has_a_format_version_and_verbs(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", tmp_path / "sandbox", "--format", "json")
    document = json.loads(result.out)
    assert document["format_version"] == "3.0"
    actions = {step["address"]: step["actions"] for step in document["steps"]}
    assert actions["astra_provider_accounts.eastus.serverless"] == ["read"]
    assert actions["azure_vault.eastus.acme-astra-eastus"] == ["create"]


def test_steps_are_in_dependency_order(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", tmp_path / "sandbox", "--format", "json")
    order = [step["address"] for step in json.loads(result.out)["steps"]]

    def first(prefix: str) -> int:
        return min(i for i, a in enumerate(order) if a.startswith(prefix))

    def last(prefix: str) -> int:
        return max(i for i, a in enumerate(order) if a.startswith(prefix))

    assert last("astra_provider_accounts.") < first("azuread_service_principal.")
    assert last("azuread_service_principal.") < first("azure_role_assignment.")
    assert last("azure_vault.") < first("azure_key.")
    assert last("azure_role_assignment.") < first("astra_registration.")
    assert last("azure_key.") < first("astra_registration.")


def test_replication_lag_of_new_principals_is_waited_out(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "world.yaml", "azure:\n  replicationLag: {seconds: 120}\n")
    result = cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve")
    assert result.code == 0, result.out + result.err
    refused = [c for c in read_calls(sandbox) if "roleAssignments" in c["path"] and c["status"] == 400]
    # Each of the three new principals' assignments was refused while two minutes of the emulator's
    # time passed (backing off from about 1 s to 30 s: several attempts each).
    assert len({c["path"] for c in refused}) == 3 and len(refused) >= 3 * 3
    assert cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--detailed-exitcode").code == 0


def test_plan_warns_that_deployed_databases_keep_their_key(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "world.yaml", "astra:\n  databases:\n"
          "    - {name: orders, cloudProvider: AZURE, region: eastus, tier: serverless}\n"
          "    - {name: legacy, cloudProvider: AWS, region: us-east-1, tier: serverless}\n")
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox)
    assert result.code == 0, result.err
    assert "[eastus] 1 Astra database(s) already deployed in azure eastus (orders) keep their current key" in result.out
    assert "[westus2]" not in result.out
    assert "legacy" not in result.out


def test_existing_objects_are_adopted_not_duplicated(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "world.yaml", """
azure:
  vaults:
    - {subscription: 22222222-2222-2222-2222-222222222222, resourceGroup: cmk-prod, name: acme-astra-eastus,
       location: eastus, enableRbacAuthorization: true,
       networkAcls: {bypass: AzureServices, defaultAction: Allow},
       tags: {managed-by: cmkctl, cmkctl-set: acme-astra}, keys: [{name: astra-eastus, kty: RSA, keySize: 3072}]}
""")
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--format", "json")
    steps = {s["address"]: s for s in json.loads(result.out)["steps"]}
    vault = steps["azure_vault.eastus.acme-astra-eastus"]
    assert vault["actions"] == ["update"] and vault["irreversible"]
    assert [c["name"] for c in vault["changes"]] == ["enablePurgeProtection"]
    assert steps["azure_key.eastus.acme-astra-eastus/astra-eastus"]["actions"] == ["no-op"]
    assert cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve").code == 0
    assert len(load_state(sandbox)["arm"]["vaults"]["acme-astra-eastus"]["keys"]) == 1
    assert cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--detailed-exitcode").code == 0


def test_turning_purge_protection_off_is_forbidden_at_plan(
    cmkctl: Callable[..., Result], applied: Path, tmp_path: Path
) -> None:
    text = EXAMPLE.read_text().replace("purgeProtection: true", "purgeProtection: false", 1)
    result = cmkctl("plan", "-f", write(tmp_path / "m.yaml", text), "--sandbox", applied)
    assert result.code == 3
    assert "azure_vault.eastus.acme-astra-eastus: enablePurgeProtection: purge protection, once on" in result.err


def test_secrets_never_leave(cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = "canary-astra-token-5f2c9e"
    monkeypatch.setenv("ASTRA_DB_APPLICATION_TOKEN", canary)
    sandbox, saved = tmp_path / "sandbox", tmp_path / "plan.json"
    outputs = [
        cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--out", saved),
        cmkctl("apply", saved, "--sandbox", sandbox),
        cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--format", "json"),
        cmkctl("show", saved, "--format", "markdown"),
    ]
    assert all(r.code == 0 for r in outputs), outputs
    written = [r.out + r.err for r in outputs] + [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()]
    assert not [text for text in written if canary in text]


def test_a_bug_prints_one_line_and_where_the_traceback_is(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something internal")

    monkeypatch.setattr("reconciler.engine.planner.Planner.plan", broken)
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", tmp_path / "sandbox")
    assert result.code == 1
    assert "Traceback" not in result.err
    assert "cmkctl hit a bug (RuntimeError)" in result.err
    log = Path(result.err.split("the full traceback is in ")[1].split(". Please")[0])
    assert "something internal" in log.read_text()


def test_a_saved_plan_is_stale_once_one_live_object_changed(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox, saved = tmp_path / "sandbox", tmp_path / "plan.json"
    assert cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve", "--target", "azure_vault").code == 0
    assert cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--out", saved).code == 0
    # Someone changes one vault by hand between the review and the merge.
    state_file = sandbox / "state.json"
    state = json.loads(state_file.read_text())
    state["arm"]["vaults"]["acme-astra-westus2"]["resource"]["tags"]["owner"] = "someone-else"
    state_file.write_text(json.dumps(state))
    before = len(mutating_calls(sandbox))
    result = cmkctl("apply", saved, "--sandbox", sandbox)
    assert result.code == 1
    assert "the plan is stale" in result.err
    assert "azure_vault.westus2.acme-astra-westus2 changed since the plan was made" in result.err
    assert "acme-astra-eastus" not in result.err
    assert len(mutating_calls(sandbox)) == before


def test_a_plan_with_one_byte_changed_is_refused_as_altered(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox, saved = tmp_path / "sandbox", tmp_path / "plan.json"
    assert cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--out", saved).code == 0
    data = bytearray(saved.read_bytes())
    where = data.index(b'"keySize": 3072') + len(b'"keySize": 307')
    data[where] = ord("4")  # 3072 -> 3074: one byte
    saved.write_bytes(bytes(data))
    result = cmkctl("apply", saved, "--sandbox", sandbox)
    assert result.code == 1
    assert "altered after it was written" in result.err
    assert mutating_calls(sandbox) == []


def test_a_region_astra_has_not_enabled_is_forbidden_at_plan(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "world.yaml", "astra:\n  accounts:\n"
          "    - {product: serverless, provider: azure, region: westus2, providerIds: []}\n")
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox)
    assert result.code == 3, result.out + result.err
    assert ("astra_provider_accounts.westus2.serverless: Astra lists no serverless provider ID for azure region "
            "westus2: the region is not enabled for this organization") in result.err
    assert mutating_calls(sandbox) == []


@pytest.mark.parametrize("registered", [
    "https://KV.vault.azure.net:443/keys/astra-eastus/",
    "https://acme-astra-eastus.vault.azure.net/keys/astra-eastus/",
    "https://acme-astra-eastus.vault.azure.net:443/keys/astra-eastus",
    "HTTPS://Acme-Astra-EastUS.Vault.Azure.Net/keys/astra-eastus",
])
def test_astras_cosmetic_spelling_of_the_registered_key_is_no_change(registered: str, cmkctl: Callable[..., Result],
                                                                      tmp_path: Path) -> None:
    """Issue 20, point 8: only a support ticket changes Astra's key, so its KeyID answer is read as ARM's URIs
    are (no trailing slash or :443, host and scheme in lower case): a cosmetic difference forbids nothing."""
    registered = registered.replace("KV", "ACME-ASTRA-EASTUS")
    sandbox = tmp_path / "sandbox"
    write(sandbox / "world.yaml", f"""
azure:
  vaults:
    - {{subscription: 22222222-2222-2222-2222-222222222222, resourceGroup: cmk-prod, name: acme-astra-eastus,
       location: eastus, enableRbacAuthorization: true, enablePurgeProtection: true,
       networkAcls: {{bypass: AzureServices, defaultAction: Allow}},
       keys: [{{name: astra-eastus, kty: RSA, keySize: 3072}}]}}
astra:
  registrations:
    - {{product: serverless, provider: azure, region: eastus, keyID: "{registered}"}}
""")
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--format", "json")
    assert result.code == 0, result.err
    steps = {s["address"]: s for s in json.loads(result.out)["steps"]}
    assert [a for s in steps.values() for a in s["actions"] if a == "forbidden"] == []
    assert steps["astra_registration.eastus.serverless"]["actions"] == ["no-op"]
    assert steps["astra_registration.westus2.serverless"]["actions"] == ["create"]  # the other region's is new
    another = registered.replace("/keys/astra-eastus", "/keys/astra-eastus-2")
    write(sandbox / "world.yaml", (sandbox / "world.yaml").read_text().replace(registered, another))
    (sandbox / "state.json").unlink()
    refused = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox)
    assert refused.code == 3 and "[R-ASTRA-ONE-KEY]" in refused.err  # another key still is one
