"""AWS regions: the key policy is checked offline, before any call."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import EXAMPLES, Result, write

GOOD = (EXAMPLES / "astra-managed-clusters-aws.yaml").read_text("utf-8")
OWNER_STATEMENT = """            - Sid: Allow key administrators
              Effect: Allow
              Principal: {AWS: "arn:aws:iam::123456789012:role/kms-admin"}
              Action: [kms:Describe*, kms:Get*, kms:List*, kms:PutKeyPolicy, kms:TagResource, kms:EnableKeyRotation]
              Resource: "*"
"""


def invalid(cmkctl: Callable[..., Result], text: str, tmp_path: Path) -> str:
    result = cmkctl("validate", write(tmp_path / "m.yaml", text))
    assert result.code == 3, result
    assert "Traceback" not in result.err + result.out
    return result.err


def with_statement(statement: str) -> str:
    assert OWNER_STATEMENT in GOOD
    return GOOD.replace(OWNER_STATEMENT, statement)


def test_the_examples_are_valid(cmkctl: Callable[..., Result]) -> None:
    for name in ("astra-managed-clusters-aws.yaml", "astra-serverless-aws.yaml"):
        result = cmkctl("validate", EXAMPLES / name)
        assert result.code == 0, result.err


def test_a_policy_without_the_account_root_exits_3(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = with_statement("""            - Sid: Enable IAM User Permissions
              Effect: Allow
              Principal: {AWS: "arn:aws:iam::123456789012:role/kms-admin"}
              Action: "kms:*"
              Resource: "*"
""")
    err = invalid(cmkctl, text, tmp_path)
    assert "regions[0].keys[0].policy: the key policy of alias/astra-classic-us-east-2 would lock the account out" in err
    assert "[R-KMS-LOCKOUT]" in err


def test_a_deny_of_the_root_exits_3(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = with_statement("""            - Sid: Nobody changes it
              Effect: Deny
              Principal: {AWS: "123456789012"}
              Action: kms:PutKeyPolicy
              Resource: "*"
""")
    assert "[R-KMS-LOCKOUT]" in invalid(cmkctl, text, tmp_path)


def test_an_unconditioned_wildcard_principal_exits_3(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = with_statement("""            - Sid: Anyone may decrypt
              Effect: Allow
              Principal: "*"
              Action: kms:Decrypt
              Resource: "*"
""")
    err = invalid(cmkctl, text, tmp_path)
    assert "statement 'Anyone may decrypt' of alias/astra-classic-us-east-2 names any principal" in err
    assert "[R-KMS-WILDCARD]" in err


def test_a_conditioned_wildcard_is_accepted(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = with_statement("""            - Sid: Our organization may describe
              Effect: Allow
              Principal: "*"
              Action: kms:DescribeKey
              Resource: "*"
              Condition: {StringEquals: {"aws:PrincipalOrgID": o-a1b2c3d4e5}}
""")
    result = cmkctl("validate", write(tmp_path / "m.yaml", text))
    assert result.code == 0, result.err


def test_the_astra_statements_are_cmkctls(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = with_statement("""            - Sid: Allow an external account to use this KMS key
              Effect: Allow
              Principal: {AWS: "arn:aws:iam::111122223333:role/creator"}
              Action: "kms:*"
              Resource: "*"
""")
    assert "[R-KMS-RESERVED-SID]" in invalid(cmkctl, text, tmp_path)


def test_statements_need_distinct_sids(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    assert "[E-DUPLICATE]" in invalid(cmkctl, with_statement(OWNER_STATEMENT + OWNER_STATEMENT), tmp_path)


def test_the_aws_account_is_required(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace('  aws:\n    accountId: "123456789012"\n', "")
    assert "accounts.aws.accountId is missing [R-ACCOUNTS]" in invalid(cmkctl, text, tmp_path)


def test_astra_must_be_allowed_by_the_registered_key(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("""    keys:
      - alias: alias/astra-classic-eu-west-1
        description: Astra Managed Clusters databases in eu-west-1
        policy:
          allow:
            - astra: managed-clusters
""", """    keys:
      - alias: alias/astra-classic-eu-west-1
        description: Astra Managed Clusters databases in eu-west-1
""")
    err = invalid(cmkctl, text, tmp_path)
    assert "cannot use alias/astra-classic-eu-west-1" in err
    assert "[R-ASTRA-GRANT]" in err


def test_a_registration_names_a_key_of_its_region(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("key: alias/astra-classic-eu-west-1}", "key: alias/astra-classic-us-east-2}")
    assert "[R-SAME-REGION]" in invalid(cmkctl, text, tmp_path)
    text = GOOD.replace("key: alias/astra-classic-eu-west-1}", "key: alias/nowhere}")
    assert "no KMS key 'alias/nowhere' is declared in region 'eu-west-1' [E-REFERENCE]" in invalid(cmkctl, text, tmp_path)


def test_a_second_key_for_one_provider_region_exits_3(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("      - astra: {product: managed-clusters, key: alias/astra-classic-eu-west-1}\n",
                        "      - astra: {product: managed-clusters, key: alias/astra-classic-eu-west-1}\n"
                        "      - astra: {product: managed-clusters, key: alias/astra-classic-eu-west-1}\n")
    assert "[R-ASTRA-ONE-KEY]" in invalid(cmkctl, text, tmp_path)


def test_vault_fields_are_not_accepted_in_an_aws_region(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("    cloud: aws\n", "    cloud: aws\n    vaults: []\n", 1)
    assert "unknown field 'vaults'" in invalid(cmkctl, text, tmp_path)


# Principals KMS refuses (MalformedPolicyDocumentException) and an emulator stores: each a line of the
# manifest's owner statement, refused by validate (and so before any call of plan or apply).
MALFORMED_PRINCIPALS = {
    "a wildcard inside an ARN": '{AWS: "arn:aws:iam::123456789012:role/*"}',
    "an account of five digits": '{AWS: "arn:aws:iam::12345:root"}',
    "a group (never a principal)": '{AWS: "arn:aws:iam::123456789012:group/admins"}',
    "a deleted principal's unique ID": '{AWS: "AIDAJQABLZS4A3QDU576Q"}',
    "a bucket ARN": '{AWS: "arn:aws:s3:::my-bucket"}',
    "a service that is no AWS service": '{Service: "evil.example.com"}',
    "one bad ARN in a list": '{AWS: ["123456789012", "arn:aws:iam::123456789012:role/a b"]}',
}


def test_malformed_principals_are_refused_before_any_call(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    for case, principal in MALFORMED_PRINCIPALS.items():
        text = with_statement(OWNER_STATEMENT.replace(
            'Principal: {AWS: "arn:aws:iam::123456789012:role/kms-admin"}', f"Principal: {principal}"))
        err = invalid(cmkctl, text, tmp_path)
        assert "[R-KMS-PRINCIPAL]" in err, (case, err)
        assert "m.yaml:" in err and "statement 'Allow key administrators' of alias/astra-classic-us-east-2:" in err
        assert "KMS would refuse the key policy (MalformedPolicyDocumentException)" in err
        planned = cmkctl("plan", "-f", tmp_path / "m.yaml", "--sandbox", tmp_path / "sandbox")
        assert planned.code == 3 and not (tmp_path / "sandbox" / "calls.jsonl").exists(), case


def test_policy_allow_takes_only_accounts_roots_users_and_roles(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    for principal in ("arn:aws:iam::123456789012:group/admins", "arn:aws-foo:iam::123456789012:root",
                      "arn:aws:iam::123456789012:role/*"):
        text = GOOD.replace("          allow:\n            - astra: managed-clusters\n",
                            f'          allow:\n            - astra: managed-clusters\n            - aws: "{principal}"\n', 1)
        assert f"'{principal}' does not match" in invalid(cmkctl, text, tmp_path)


def test_well_formed_principals_of_every_kind_are_accepted(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    principal = ('{AWS: ["123456789012", "arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:role/ops/kms-admin",'
                 ' "arn:aws-us-gov:iam::123456789012:user/alice", "arn:aws:sts::123456789012:assumed-role/admin/alice"],'
                 ' Service: logs.us-east-2.amazonaws.com}')
    text = with_statement(OWNER_STATEMENT.replace(
        'Principal: {AWS: "arn:aws:iam::123456789012:role/kms-admin"}', f"Principal: {principal}"))
    result = cmkctl("validate", write(tmp_path / "m.yaml", text))
    assert result.code == 0, result.err
