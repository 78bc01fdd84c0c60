"""Confluent Cloud Dedicated Kafka on Azure (BYOK), end to end against the sandbox, through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cmkctl_sandbox import load_state
from cmkctl_sandbox.state import read_calls
from tests.conftest import EXAMPLES, Result, apply_ok, mutating_calls, plan_apply_plan, write

EXAMPLE = EXAMPLES / "confluent-azure-byok.yaml"
VAULT_ID = ("/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/cmk-prod/providers/"
            "Microsoft.KeyVault/vaults/acme-kafka-eastus")
KEY_URI = "https://acme-kafka-eastus.vault.azure.net/keys/kafka-eastus"
TENANT = "11111111-1111-1111-1111-111111111111"
ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
READER = "21090545-7ca7-4776-b22c-e363652d74d2"
BYOK = "confluent_byok_key.eastus.acme-kafka-eastus/kafka-eastus"
PRINCIPAL = "azuread_service_principal.eastus.confluent-kafka-eastus"
CLUSTER = "confluent_cluster.eastus.orders"


def changed(tmp_path: Path, *replacements: tuple[str, str], text: str = "", name: str = "changed.yaml") -> Path:
    text = text or EXAMPLE.read_text()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return write(tmp_path / name, text)


# Another Azure key in the same vault, registered and granted in place of the first.
ANOTHER_KEY = (("name: kafka-eastus\n", "name: kafka-eastus-v2\n"), ("key: kafka-eastus\n", "key: kafka-eastus-v2\n"),
               ("{confluent: kafka-eastus}", "{confluent: kafka-eastus-v2}"))


@pytest.fixture
def applied(cmkctl: Callable[..., Result], tmp_path: Path) -> Path:
    apply_ok(cmkctl, EXAMPLE, tmp_path / "sandbox")
    return tmp_path / "sandbox"


def test_first_plan_shows_the_application_and_its_grants_as_known_after_apply(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    sandbox = tmp_path / "sandbox"
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--format", "json")
    assert result.code == 0, result.err
    steps = {s["address"]: s for s in json.loads(result.out)["steps"]}
    assert steps[PRINCIPAL]["identity"] == {"appId": {"$unknown": f"{BYOK}#applicationId"}}
    grants = [s for a, s in steps.items() if a.startswith("azure_role_assignment.")]
    assert len(grants) == 2
    assert all(g["identity"]["principalId"] == {"$unknown": f"{PRINCIPAL}#objectId"} for g in grants)
    assert steps[CLUSTER]["attributes"]["byokKeyId"] == {"$unknown": f"{BYOK}#id"}
    assert all(s["actions"] == ["create"] for s in steps.values())
    text = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox).out
    assert "appId = (known after apply)" in text
    assert text.count("principalId      = (known after apply)") == 2
    assert mutating_calls(sandbox) == []


def test_plan_apply_plan_converges(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    before, applied = plan_apply_plan(cmkctl, EXAMPLE, sandbox)
    assert "Plan: 7 to create, 0 to update, 0 unchanged, 3 irreversible." in before.out
    assert "Apply complete: 7 changed, 0 failed, 0 skipped." in applied.out


def test_the_chain_is_key_registration_principal_grants_then_cluster(applied: Path) -> None:
    calls = [c for c in read_calls(applied) if c["mutating"] and c["status"] < 300]

    def at(predicate: Callable[[dict[str, Any]], bool]) -> list[int]:
        return [i for i, c in enumerate(calls) if predicate(c)]

    key = at(lambda c: "/keys/" in c["path"] and c["plane"] == "arm")
    registration = at(lambda c: c["path"] == "/byok/v1/keys")
    principal = at(lambda c: c["path"] == "/v1.0/servicePrincipals")
    grants = at(lambda c: "roleAssignments" in c["path"])
    cluster = at(lambda c: c["path"] == "/cmk/v2/clusters")
    assert [len(x) for x in (key, registration, principal, grants, cluster)] == [1, 1, 1, 2, 1]
    assert key[0] < registration[0] < principal[0] < min(grants)
    assert max(grants) < cluster[0]  # both grants exist before the cluster is created


def test_what_confluent_and_azure_hold_afterwards(applied: Path) -> None:
    state = load_state(applied)
    (key,) = state["confluent"]["keys"].values()
    assert key["key"]["key_id"] == KEY_URI  # versionless
    assert (key["key"]["key_vault_id"], key["key"]["tenant_id"]) == (VAULT_ID, TENANT)
    assert key["state"] == "IN_USE" and key["validation"]["phase"] == "VALID"
    (principal,) = state["graph"]["servicePrincipals"].values()
    assert principal["appId"] == key["key"]["application_id"]
    roles = {(a["roleDefinitionId"].rsplit("/", 1)[-1], a["scope"], a["principalId"], a["principalType"])
             for a in state["arm"]["roleAssignments"].values()}
    assert roles == {(ENCRYPTION_USER, VAULT_ID, principal["id"], "ServicePrincipal"),
                     (READER, VAULT_ID, principal["id"], "ServicePrincipal")}
    (cluster,) = state["confluent"]["clusters"].values()
    assert cluster["spec"]["byok"] == {"id": key["id"], "related": f"https://api.confluent.cloud/byok/v1/keys/{key['id']}",
                                       "resource_name": f"crn://confluent.cloud/byok={key['id']}"}
    assert cluster["spec"]["environment"] == {"id": "env-a1b2c3",
                                              "related": "https://api.confluent.cloud/org/v2/environments/env-a1b2c3",
                                              "resource_name": "crn://confluent.cloud/environment=env-a1b2c3"}
    assert (cluster["spec"]["config"], cluster["spec"]["availability"]) == (
        {"kind": "Dedicated", "cku": 2}, "MULTI_ZONE")


def test_second_apply_makes_no_mutating_call(cmkctl: Callable[..., Result], applied: Path) -> None:
    before = len(mutating_calls(applied))
    again = cmkctl("apply", "-f", EXAMPLE, "--sandbox", applied, "--auto-approve")
    assert again.code == 0 and "No changes." in again.out
    assert len(mutating_calls(applied)) == before


def test_a_slow_validation_is_waited_out(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "world.yaml", "confluent:\n  validationReads: 2\n")
    write(sandbox / "faults.yaml", "realism: off\n")  # the reads are counted: no lag in time on top
    result = cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve")
    assert result.code == 0, result.out + result.err
    reads = [c for c in read_calls(sandbox) if c["path"].startswith("/byok/v1/keys/cck-")]
    assert len(reads) == 3  # INITIALIZING twice, then VALID
    assert cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--detailed-exitcode").code == 0


def test_a_different_key_is_a_new_registration_and_the_old_one_stays(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    sandbox = tmp_path / "sandbox"
    without_cluster = changed(tmp_path, ("          cluster: {name: orders, availability: MULTI_ZONE, cku: 2}\n", ""))
    assert cmkctl("apply", "-f", without_cluster, "--sandbox", sandbox, "--auto-approve").code == 0
    rotated = changed(tmp_path, *ANOTHER_KEY, text=without_cluster.read_text(), name="rotated.yaml")
    plan = json.loads(cmkctl("plan", "-f", rotated, "--sandbox", sandbox, "--format", "json").out)
    actions = {s["address"]: s["actions"] for s in plan["steps"]}
    assert actions["confluent_byok_key.eastus.acme-kafka-eastus/kafka-eastus-v2"] == ["create"]
    assert not [a for a, act in actions.items() if act == ["update"]]
    result = cmkctl("apply", "-f", rotated, "--sandbox", sandbox, "--auto-approve")
    assert result.code == 0, result.out + result.err
    keys = {k["key"]["key_id"] for k in load_state(sandbox)["confluent"]["keys"].values()}
    assert keys == {KEY_URI, KEY_URI + "-v2"}
    assert not [c for c in read_calls(sandbox) if c["method"] == "DELETE"]


def test_another_key_for_an_existing_cluster_is_forbidden_at_plan(
    cmkctl: Callable[..., Result], applied: Path, tmp_path: Path
) -> None:
    rotated = changed(tmp_path, *ANOTHER_KEY, name="rotated.yaml")
    before = len(mutating_calls(applied))
    for command in (("plan",), ("apply", "--auto-approve")):
        result = cmkctl(*command, "-f", rotated, "--sandbox", applied)
        assert result.code == 3, result.out + result.err
        assert f"{CLUSTER}: byokKeyId: a Dedicated cluster's encryption mode" in result.err
        assert '; declared at ' in result.err and ' as key: "kafka-eastus-v2") [R-CONFLUENT-ENCRYPTION-MODE]' in result.err
        assert "Traceback" not in result.err
    assert len(mutating_calls(applied)) == before


AUTOMATIC_CLUSTER = """
confluent:
  clusters:
    - {name: orders, environmentId: env-a1b2c3, region: eastus, availability: MULTI_ZONE, cku: 2}
"""


def test_an_automatic_cluster_cannot_switch_to_a_self_managed_key(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "world.yaml", AUTOMATIC_CLUSTER)
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox)
    assert result.code == 3, result.out + result.err
    assert f"{CLUSTER}: byokKeyId: a Dedicated cluster's encryption mode (Automatic or Self-managed)" in result.err
    assert '(live: "Automatic"; declared at ' in result.err
    assert mutating_calls(sandbox) == []


def test_an_existing_cluster_on_the_declared_key_is_adopted(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "world.yaml", f"""
azure:
  tenantId: {TENANT}
  vaults:
    - {{subscription: 22222222-2222-2222-2222-222222222222, resourceGroup: cmk-prod, name: acme-kafka-eastus,
       location: eastus, enablePurgeProtection: true, networkAcls: {{bypass: AzureServices, defaultAction: Deny}},
       keys: [{{name: kafka-eastus, kty: RSA, keySize: 3072}}]}}
confluent:
  keys:
    - {{id: cck-existing, keyId: "{KEY_URI}", keyVaultId: "{VAULT_ID}", tenantId: {TENANT}}}
  clusters:
    - {{name: orders, environmentId: env-a1b2c3, region: eastus, cku: 2, byokKeyId: cck-existing}}
""")
    plan = json.loads(cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--format", "json").out)
    steps = {s["address"]: s for s in plan["steps"]}
    assert steps[CLUSTER]["actions"] == ["no-op"]
    assert steps[BYOK]["actions"] == ["no-op"]
    assert steps[PRINCIPAL]["actions"] == ["create"]  # the application is now known: its appId is shown
    assert steps[PRINCIPAL]["identity"]["appId"] == load_state(sandbox)["confluent"]["keys"]["cck-existing"][
        "key"]["application_id"]
    result = cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve")
    assert result.code == 0, result.out + result.err
    assert len(load_state(sandbox)["confluent"]["keys"]) == 1  # found, not registered twice
    assert cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--detailed-exitcode").code == 0


def test_capacity_is_updated_in_place(cmkctl: Callable[..., Result], applied: Path, tmp_path: Path) -> None:
    bigger = changed(tmp_path, ("cku: 2}", "cku: 4}"))
    plan = json.loads(cmkctl("plan", "-f", bigger, "--sandbox", applied, "--format", "json").out)
    assert {s["address"]: s["actions"] for s in plan["steps"]}[CLUSTER] == ["update"]
    assert cmkctl("apply", "-f", bigger, "--sandbox", applied, "--auto-approve").code == 0
    (cluster,) = load_state(applied)["confluent"]["clusters"].values()
    assert cluster["spec"]["config"]["cku"] == 4


RULE_CASES = {
    "R-CONFLUENT-KEY-TYPE": (("type: RSA\n        size: 3072", "type: EC"),),
    "R-CONFLUENT-PURGE": (("purgeProtection: true", "purgeProtection: false"),),
    "R-CONFLUENT-RBAC": (("authorization: rbac", "authorization: accessPolicies"),),
    "R-CONFLUENT-BYPASS": (("trustedServicesBypass: true", "trustedServicesBypass: false"),),
    "R-CONFLUENT-GRANT": (("      - role: Key Vault Reader\n        vault: acme-kafka-eastus\n"
                           "        principal: {confluent: kafka-eastus}\n", ""),),
    "R-ACCOUNTS": (("  confluent:\n    environmentId: env-a1b2c3\n", ""),),
    "R-VERSIONED-KEY-ID": (("key: kafka-eastus\n",
                            "key: https://acme-kafka-eastus.vault.azure.net/keys/kafka-eastus/0a1b2c3d\n"),),
}
ANOTHER_REGION = """
  - name: westus2
    cloud: azure
    vaults:
      - {name: acme-kafka-westus2, resourceGroup: cmk-prod}
    keys:
      - {name: kafka-westus2, vault: acme-kafka-westus2}
"""


@pytest.mark.parametrize("rule", sorted(RULE_CASES))
def test_each_rule_exits_3_and_changes_nothing(
    cmkctl: Callable[..., Result], tmp_path: Path, rule: str
) -> None:
    manifest = changed(tmp_path, *RULE_CASES[rule])
    sandbox = tmp_path / "sandbox"
    for command in (("validate", manifest), ("plan", "-f", manifest, "--sandbox", sandbox),
                    ("apply", "-f", manifest, "--sandbox", sandbox, "--auto-approve")):
        result = cmkctl(*command)
        assert result.code == 3, (command, result.out, result.err)
        assert f"[{rule}]" in result.err and "changed.yaml:" in result.err
    assert mutating_calls(sandbox) == []


def test_a_key_in_another_region_exits_3_and_changes_nothing(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    manifest = write(tmp_path / "changed.yaml", EXAMPLE.read_text().replace(
        "key: kafka-eastus\n", "key: kafka-westus2\n") + ANOTHER_REGION)
    sandbox = tmp_path / "sandbox"
    for command in (("validate", manifest), ("plan", "-f", manifest, "--sandbox", sandbox)):
        result = cmkctl(*command)
        assert result.code == 3, result.out + result.err
        assert "key 'kafka-westus2' is in region 'westus2'; Confluent needs the key in the region" in result.err
        assert "[R-SAME-REGION]" in result.err
    assert mutating_calls(sandbox) == []


def test_a_principal_for_an_unregistered_key_is_a_dangling_reference(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    manifest = changed(tmp_path, ("registrations:\n      - confluent:\n          key: kafka-eastus\n"
                                  "          cluster: {name: orders, availability: MULTI_ZONE, cku: 2}\n", ""))
    result = cmkctl("validate", manifest)
    assert result.code == 3
    assert "principal {confluent: kafka-eastus} names a key not registered with Confluent" in result.err


def test_the_confluent_secret_never_leaves(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "canary-confluent-secret-93b1d7"
    monkeypatch.setenv("CONFLUENT_CLOUD_API_KEY", "canary-confluent-key-id")
    monkeypatch.setenv("CONFLUENT_CLOUD_API_SECRET", canary)
    sandbox, saved = tmp_path / "sandbox", tmp_path / "plan.json"
    outputs = [
        cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--out", saved),
        cmkctl("apply", saved, "--sandbox", sandbox),
        cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--format", "json"),
        cmkctl("show", saved, "--format", "markdown"),
        cmkctl("sandbox", "show", sandbox),
    ]
    assert all(r.code == 0 for r in outputs), outputs
    written = [r.out + r.err for r in outputs] + [p.read_text(errors="replace") for p in tmp_path.rglob("*")
                                                  if p.is_file()]
    assert not [text for text in written if canary in text]
