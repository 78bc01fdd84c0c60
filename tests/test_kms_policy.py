"""The key-policy merge: required statements exactly as the procedure lists them, matched by Sid."""

from __future__ import annotations

import json

from reconciler.core import kms_policy as kp

ACCOUNT = "123456789012"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
CREATOR = "arn:aws:iam::999988887777:role/creator"
OWNER = {"Sid": "Admins", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/admin"},
         "Action": ["kms:Get*", "kms:Describe*"], "Resource": "*"}


def test_required_statements_hold_exactly_the_listed_actions() -> None:
    found = {s["Sid"]: s for s in kp.required_statements(ACCOUNT, [CREATOR])}
    assert set(found) == {kp.ROOT_SID, kp.EXTERNAL_SID, kp.ATTACHMENT_SID}
    assert found[kp.ROOT_SID]["Principal"] == {"AWS": ROOT}
    assert sorted(found[kp.EXTERNAL_SID]["Action"]) == sorted([
        "kms:EnableKey", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptTo", "kms:ReEncryptFrom", "kms:DescribeKey"])
    assert found[kp.EXTERNAL_SID]["Principal"] == {"AWS": [CREATOR]}
    attachment = found[kp.ATTACHMENT_SID]
    assert sorted(attachment["Action"]) == ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
    assert attachment["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_no_external_principal_means_only_the_root_statement() -> None:
    assert [s["Sid"] for s in kp.required_statements(ACCOUNT, [])] == [kp.ROOT_SID]


def test_canonical_form_ignores_spelling_but_not_meaning() -> None:
    written = {"Sid": "A", "Effect": "Allow", "Principal": {"AWS": [CREATOR]}, "Action": ["kms:B", "kms:A", "kms:A"],
               "Resource": ["*"], "Condition": {"Bool": {"k": True}}}
    echoed = {"Sid": "A", "Effect": "Allow", "Principal": {"AWS": CREATOR}, "Action": ["kms:A", "kms:B"],
              "Resource": "*", "Condition": {"Bool": {"k": "true"}}}
    assert kp.canonical(written) == kp.canonical(echoed)
    assert kp.canonical({**echoed, "Condition": None}) != kp.canonical(echoed)
    assert kp.canonical(echoed)["Resource"] == "*"


def test_owner_statements_are_kept_and_may_replace_the_root_statement() -> None:
    replaced = {**OWNER, "Sid": kp.ROOT_SID}
    declared = kp.declared_statements(ACCOUNT, [CREATOR], [OWNER, replaced])
    assert list(declared) == [kp.ROOT_SID, kp.EXTERNAL_SID, kp.ATTACHMENT_SID, "Admins"]
    assert declared[kp.ROOT_SID] == kp.canonical(replaced)


def test_merge_replaces_by_sid_and_keeps_every_other_live_statement() -> None:
    live = {"Version": "2012-10-17", "Id": "key-default-1", "Statement": [
        {"Sid": kp.ROOT_SID, "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "Added by hand", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:Decrypt",
         "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:Encrypt", "Resource": "*"},
    ]}
    wanted = kp.declared_statements(ACCOUNT, [CREATOR], [])
    merged = kp.merge(json.dumps(live), wanted)
    sids = [s.get("Sid") for s in merged["Statement"]]
    assert sids == [kp.ROOT_SID, "Added by hand", None, kp.EXTERNAL_SID, kp.ATTACHMENT_SID]
    assert merged["Id"] == "key-default-1"
    assert kp.by_sid(merged)[kp.attribute_name(kp.EXTERNAL_SID)] == wanted[kp.EXTERNAL_SID]


def test_merge_of_a_single_statement_document() -> None:
    live = {"Version": "2012-10-17", "Statement": {"Sid": "Only", "Effect": "Allow", "Principal": {"AWS": ROOT},
                                                    "Action": "kms:*", "Resource": "*"}}
    assert [s["Sid"] for s in kp.merge(live, {"X": kp.canonical({**OWNER, "Sid": "X"})})["Statement"]] == ["Only", "X"]


def test_attribute_names_round_trip() -> None:
    assert kp.sid_of(kp.attribute_name(kp.EXTERNAL_SID)) == kp.EXTERNAL_SID
    assert kp.sid_of("description") is None


def test_the_root_statement_manages_the_key() -> None:
    statements = kp.declared_statements(ACCOUNT, [], []).values()
    assert kp.can_manage(statements, [ROOT])


def test_a_policy_without_the_root_locks_the_account_out() -> None:
    replaced = {**OWNER, "Sid": kp.ROOT_SID}
    statements = kp.declared_statements(ACCOUNT, [CREATOR], [replaced]).values()
    assert not kp.can_manage(statements, [ROOT])
    admin = f"arn:aws:iam::{ACCOUNT}:role/admin"
    assert not kp.can_manage(statements, [admin])  # Get*/Describe* cannot change the policy
    with_put = {**replaced, "Action": ["kms:Put*"]}
    assert kp.can_manage(kp.declared_statements(ACCOUNT, [], [with_put]).values(), [admin])


def test_an_unconditioned_deny_takes_management_away() -> None:
    deny = {"Sid": "No", "Effect": "Deny", "Principal": {"AWS": ACCOUNT}, "Action": "kms:PutKeyPolicy",
            "Resource": "*"}
    assert not kp.can_manage(kp.declared_statements(ACCOUNT, [], [deny]).values(), [ROOT])
    conditioned = {**deny, "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}
    assert kp.can_manage(kp.declared_statements(ACCOUNT, [], [conditioned]).values(), [ROOT])


def test_unconditioned_wildcards_are_found() -> None:
    star = {"Sid": "Anyone", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}
    aws_star = {**star, "Sid": "AnyoneToo", "Principal": {"AWS": ["*"]}}
    conditioned = {**star, "Sid": "Org", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-123"}}}
    assert kp.unconditioned_wildcards([star, aws_star, conditioned, OWNER]) == ["Anyone", "AnyoneToo"]


def test_new_policy_writes_plain_statements() -> None:
    policy = kp.new_policy(kp.declared_statements(ACCOUNT, [CREATOR], []))
    assert all("Condition" in s for s in policy["Statement"] if s["Sid"] == kp.ATTACHMENT_SID)
    assert all("Condition" not in s for s in policy["Statement"] if s["Sid"] != kp.ATTACHMENT_SID)


def test_principals_are_held_to_the_forms_iam_lists() -> None:
    good = ["*", ACCOUNT, ROOT, CREATOR, f"arn:aws:iam::{ACCOUNT}:role/path/to/admin", f"arn:aws-cn:iam::{ACCOUNT}:user/a",
            f"arn:aws:sts::{ACCOUNT}:assumed-role/admin/session", f"arn:aws:sts::{ACCOUNT}:federated-user/bob"]
    assert kp.malformed_principals({"Principal": {"AWS": good, "Service": "kms.amazonaws.com"}}) == []
    assert kp.malformed_principals({"Principal": "*"}) == []
    bad = [f"arn:aws:iam::{ACCOUNT}:role/*", "arn:aws:iam::1234:root", "AROAKSCDLFT9R5DQP782U", f"arn:aws:iam::{ACCOUNT}:group/g",
           f"arn:aws:iam::{ACCOUNT}:root ", "*admin"]
    found = kp.malformed_principals({"NotPrincipal": {"AWS": bad}})
    assert sorted(line.split("'")[1] for line in found) == sorted(bad)
    assert kp.malformed_principals({"Principal": {"CanonicalUser": "x"}}) == [
        "Principal has 'CanonicalUser'; a key policy names AWS, Service or Federated principals"]
    assert kp.malformed_principals({"Principal": ["x"]}) == [
        'Principal must be "*" or a mapping of AWS, Service or Federated to principals']
