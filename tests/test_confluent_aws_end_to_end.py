"""Confluent Cloud Dedicated Kafka on AWS KMS (BYOK), end to end against the sandbox, through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cmkctl_sandbox import Sandbox, breakage, load_state
from cmkctl_sandbox.state import read_calls
from tests.conftest import EXAMPLES, Result, apply_ok, mutating_calls, plan_apply_plan, write

EXAMPLE = EXAMPLES / "confluent-aws-byok.yaml"
ACCOUNT = "123456789012"
BYOK = "confluent_aws_byok_key.us-west-2.kafka-inventory"
POLICY = "confluent_aws_key_policy.us-west-2.kafka-inventory"
CLUSTER = "confluent_aws_cluster.us-west-2.inventory"
ALLOW_KMS_USE = "policy[Allow KMS Use]"


def changed(tmp_path: Path, *replacements: tuple[str, str], text: str = "") -> Path:
    text = text or EXAMPLE.read_text()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return write(tmp_path / "changed.yaml", text)


def test_first_plan_shows_the_roles_as_known_after_apply(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--format", "json")
    assert result.code == 0, result.err
    steps = {s["address"]: s for s in json.loads(result.out)["steps"]}
    assert steps[BYOK]["identity"] == {"keyArn": {"$unknown": "aws_kms_key.us-west-2.kafka-inventory#arn"}}
    statement = steps[POLICY]["attributes"][ALLOW_KMS_USE]
    assert statement["Principal"] == {"AWS": {"$unknown": f"{BYOK}#roles"}}
    assert statement["Action"] == sorted(["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                                          "kms:DescribeKey", "kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"])
    assert steps[CLUSTER]["attributes"]["byokKeyId"] == {"$unknown": f"{BYOK}#id"}
    assert steps[CLUSTER]["attributes"]["cloud"] == "AWS"
    assert mutating_calls(sandbox) == []


def test_plan_apply_plan_converges(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    before, applied = plan_apply_plan(cmkctl, EXAMPLE, tmp_path / "sandbox")
    assert "Plan: 4 to create, 0 to update, 0 unchanged, 2 irreversible." in before.out
    assert "Apply complete: 4 changed, 0 failed, 0 skipped." in applied.out


@pytest.fixture
def applied(cmkctl: Callable[..., Result], tmp_path: Path) -> Path:
    apply_ok(cmkctl, EXAMPLE, tmp_path / "sandbox")
    return tmp_path / "sandbox"


def test_the_chain_is_key_registration_policy_then_cluster(applied: Path) -> None:
    calls = [c for c in read_calls(applied) if c["mutating"] and c["status"] < 300]
    order = [c["path"] for c in calls if c["path"] in ("/byok/v1/keys", "/cmk/v2/clusters")
             or c["path"].endswith(("CreateKey", "PutKeyPolicy"))]
    assert order == ["kms:CreateKey", "/byok/v1/keys", "kms:PutKeyPolicy", "/cmk/v2/clusters"], order


def test_the_policy_keeps_the_owners_statements_and_lets_confluents_roles_in(applied: Path) -> None:
    state = load_state(applied)
    (key,) = state["kms"]["keys"]
    statements = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}
    assert set(statements) == {"Enable IAM User Permissions", "Allow key administrators", "Allow KMS Use"}
    (byok,) = state["confluent"]["keys"].values()
    assert byok["key"]["key_arn"] == key["arn"]
    assert sorted(statements["Allow KMS Use"]["Principal"]["AWS"]) == sorted(byok["key"]["roles"])
    (cluster,) = state["confluent"]["clusters"].values()
    assert (cluster["spec"]["cloud"], cluster["spec"]["region"]) == ("AWS", "us-west-2")
    assert cluster["spec"]["byok"]["id"] == byok["id"] and byok["state"] == "IN_USE"
    assert byok["validation"]["phase"] == "VALID"


def test_a_statement_removed_by_hand_is_put_back(cmkctl: Callable[..., Result], applied: Path) -> None:
    boto3 = pytest.importorskip("boto3")
    with Sandbox(applied, aws_account_id=ACCOUNT) as sandbox:
        kms = boto3.client("kms", region_name="us-west-2", endpoint_url=sandbox.endpoints.aws,
                           verify=sandbox.endpoints.ca_bundle, aws_access_key_id=sandbox.issued.aws_access_key_id,
                           aws_secret_access_key=sandbox.issued.aws_secret_access_key)
        key_id = kms.describe_key(KeyId="alias/kafka-inventory")["KeyMetadata"]["KeyId"]
        policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
        policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != "Allow KMS Use"]
        kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(policy))
    drifted = cmkctl("plan", "-f", EXAMPLE, "--sandbox", applied, "--detailed-exitcode")
    assert drifted.code == 2 and f"~ {POLICY}" in drifted.out, drifted.out
    apply_ok(cmkctl, EXAMPLE, applied)
    assert cmkctl("plan", "-f", EXAMPLE, "--sandbox", applied, "--detailed-exitcode").code == 0
    (key,) = load_state(applied)["kms"]["keys"]
    assert "Allow KMS Use" in {s["Sid"] for s in json.loads(key["policy"])["Statement"]}


REGISTRATION = "      - confluent:\n          key: alias/kafka-inventory\n"
OWNER_STATEMENT = ("            - Sid: Allow key administrators\n              Effect: Allow\n"
                   "              Principal: {AWS: \"arn:aws:iam::123456789012:role/kms-admin\"}\n")
AZURE_REGION = """  - name: eastus
    cloud: azure
    vaults:
      - {name: acme-kafka-eastus, resourceGroup: cmk-prod, purgeProtection: true, authorization: rbac}
    keys:
      - {name: kafka-eastus, vault: acme-kafka-eastus, type: RSA}
    roleAssignments:
      - {role: Key Vault Crypto Service Encryption User, vault: acme-kafka-eastus, principal: {confluent: kafka-eastus}}
      - {role: Key Vault Reader, vault: acme-kafka-eastus, principal: {confluent: kafka-eastus}}
    registrations:
      - confluent: {key: kafka-eastus, cluster: {name: inventory}}
"""
# rule -> (replacements, the line of changed.yaml the diagnostic names)
RULE_CASES: dict[str, tuple[tuple[tuple[str, str], ...], int]] = {
    # The same key for a second cluster: one key per Kafka cluster.
    "E-DUPLICATE": (((REGISTRATION, REGISTRATION + "          cluster: {name: other}\n" + REGISTRATION),), 35),
    "E-REFERENCE": ((("key: alias/kafka-inventory\n", "key: alias/kafka-missing\n"),), 32),
    "R-ACCOUNTS": ((("  confluent:\n    environmentId: env-a1b2c3\n", ""),), 31),
    "R-KMS-RESERVED-SID": (((OWNER_STATEMENT, OWNER_STATEMENT.replace("Allow key administrators", "Allow KMS Use")),),
                           22),
    "R-KMS-WILDCARD": (((OWNER_STATEMENT, OWNER_STATEMENT.replace(
        "{AWS: \"arn:aws:iam::123456789012:role/kms-admin\"}", "\"*\"")),), 22),
}


@pytest.mark.parametrize("rule", sorted(RULE_CASES))
def test_each_rule_exits_3_names_file_and_line_and_changes_nothing(
    cmkctl: Callable[..., Result], tmp_path: Path, rule: str
) -> None:
    replacements, line = RULE_CASES[rule]
    manifest = changed(tmp_path, *replacements)
    sandbox = tmp_path / "sandbox"
    for command in (("validate", manifest), ("plan", "-f", manifest, "--sandbox", sandbox),
                    ("apply", "-f", manifest, "--sandbox", sandbox, "--auto-approve")):
        result = cmkctl(*command)
        assert result.code == 3, (command, result.out, result.err)
        assert f"[{rule}]" in result.err and f"changed.yaml:{line}" in result.err, result.err
    assert mutating_calls(sandbox) == []


def test_a_cluster_name_taken_on_azure_is_a_duplicate(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("  aws:\n", "  azure:\n    tenantId: 11111111-1111-1111-1111-111111111111\n"
                                       "    subscriptionId: 22222222-2222-2222-2222-222222222222\n  aws:\n", 1)
    manifest = write(tmp_path / "changed.yaml", text.replace("regions:\n", "regions:\n" + AZURE_REGION, 1))
    result = cmkctl("validate", manifest)
    assert result.code == 3, result.out + result.err
    assert "cluster 'inventory' is declared twice" in result.err and "[E-DUPLICATE]" in result.err
    assert "changed.yaml:" in result.err


def test_an_existing_asymmetric_key_is_refused_at_plan(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    boto3 = pytest.importorskip("boto3")
    sandbox_dir = tmp_path / "sandbox"
    with Sandbox(sandbox_dir, aws_account_id=ACCOUNT) as sandbox:
        kms = boto3.client("kms", region_name="us-west-2", endpoint_url=sandbox.endpoints.aws,
                           verify=sandbox.endpoints.ca_bundle, aws_access_key_id=sandbox.issued.aws_access_key_id,
                           aws_secret_access_key=sandbox.issued.aws_secret_access_key)
        made: dict[str, Any] = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
        kms.create_alias(AliasName="alias/kafka-inventory", TargetKeyId=made["KeyId"])
    before = len([c for c in read_calls(sandbox_dir) if c["mutating"]])
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox_dir)
    assert result.code == 3, result.out + result.err
    assert "[R-CONFLUENT-KEY-TYPE]" in result.out + result.err and "RSA_2048" in result.out + result.err
    assert len([c for c in read_calls(sandbox_dir) if c["mutating"]]) == before


def _check(cmkctl: Callable[..., Result], sandbox: Path) -> tuple[Result, dict[str, Any]]:
    result = cmkctl("check", "-f", EXAMPLE, "--sandbox", sandbox, "--format", "json")
    return result, {path["consumer"]: path for path in json.loads(result.out)["paths"]}


def test_check_judges_the_key_path_healthy_then_broken_when_confluent_reports_it_invalid(
    cmkctl: Callable[..., Result], applied: Path
) -> None:
    result, paths = _check(cmkctl, applied)
    assert result.code == 0, result.out + result.err
    assert set(paths) == {CLUSTER} and paths[CLUSTER]["status"] == "healthy"
    (key,) = load_state(applied)["kms"]["keys"]
    breakage.report_invalid(applied, key["arn"], "Access to key denied.")
    result, paths = _check(cmkctl, applied)
    assert result.code == 1
    assert paths[CLUSTER]["status"] == "broken"
    assert [f["reason"] for f in paths[CLUSTER]["findings"] if f["status"] == "broken"] == [
        "Confluent reports validation.phase INVALID: Access to key denied."]
