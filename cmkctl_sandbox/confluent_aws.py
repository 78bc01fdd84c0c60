"""Confluent BYOK keys in AWS KMS (byok/v1 `AwsKey`): the roles Confluent answers, and what it checks.

Registering an `AwsKey` (`key_arn`) answers `roles[]`, the IAM roles Confluent made for the
key-environment combination (byok/v1 `byok.v1.AwsKey.roles`, read-only). Confluent can use the key
once its policy lets every one of those roles call the actions Confluent's example grants them
(confluentinc/terraform-provider-confluent, examples/configurations/dedicated-public-aws-byok-kafka-acls,
statement "Allow KMS Use"). The sandbox reads the key and its policy from the `kms` section of its
state, the view of moto's KMS that the AWS plane writes after every change (aws.py).
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

from cmkctl_sandbox.ids import stable_uuid
from cmkctl_sandbox.wire import State

AWS_KEY_KIND = "AwsKey"
KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):key/[A-Za-z0-9-]+$")
# Confluent's own account, as byok/v1's example of `roles` shows its role ARNs.
CONFLUENT_ACCOUNT = "987654321234"
# What Confluent's example grants the roles; each wildcard stands for the calls Confluent makes.
REQUIRED_ACTIONS: dict[str, tuple[str, ...]] = {
    "kms:Encrypt": ("kms:Encrypt",),
    "kms:Decrypt": ("kms:Decrypt",),
    "kms:ReEncrypt*": ("kms:ReEncryptFrom", "kms:ReEncryptTo"),
    "kms:GenerateDataKey*": ("kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext"),
    "kms:DescribeKey": ("kms:DescribeKey",),
    "kms:CreateGrant": ("kms:CreateGrant",),
    "kms:ListGrants": ("kms:ListGrants",),
    "kms:RevokeGrant": ("kms:RevokeGrant",),
}
# The message byok/v1 gives as its example of a validation's (`byok.v1.KeyValidation.message`).
ACCESS_DENIED = "Access to key denied."


def is_aws(key: dict[str, Any]) -> bool:
    return key.get("kind") == AWS_KEY_KIND


def roles_for(key_id: str) -> list[str]:
    """Two roles, as byok/v1's example answers: one for block storage and one for the Kafka cluster."""
    return [f"arn:aws:iam::{CONFLUENT_ACCOUNT}:role/block_storage_manager",
            f"arn:aws:iam::{CONFLUENT_ACCOUNT}:role/cc-kafka-{stable_uuid('confluent-aws-role', key_id)}"]


def key_region(key: dict[str, Any]) -> str:
    match = KEY_ARN.match(str(key.get("key_arn", "")))
    return match["region"] if match else ""


def problem(state: State, key: dict[str, Any], cluster_region: str = "") -> str:
    """Why Confluent cannot use the AWS KMS key `key` (a BYOK key's `key` object), or ""."""
    arn = str(key["key_arn"])
    stored = next((k for k in state.get("kms", {}).get("keys", []) if k.get("arn") == arn), None)
    if stored is None:
        return f"AWS KMS key {arn} was not found or is not accessible"
    if stored.get("keyState") != "Enabled":
        return f"AWS KMS key {arn} is {stored.get('keyState')}"
    if stored.get("keySpec") != "SYMMETRIC_DEFAULT":
        return f"AWS KMS key {arn} is {stored.get('keySpec')}; a symmetric key (SYMMETRIC_DEFAULT) is required"
    if not all(_allowed(stored.get("policy"), role) for role in key.get("roles") or []):
        return ACCESS_DENIED
    region = key_region(key)
    if cluster_region and region != cluster_region:
        return f"the key is in region {region} but the cluster is in {cluster_region}; they must be in the same region"
    return ""


def _statements(policy: Any) -> list[dict[str, Any]]:
    try:
        document = json.loads(policy) if isinstance(policy, str) else policy
    except ValueError:
        return []
    found = document.get("Statement") if isinstance(document, dict) else None
    found = [found] if isinstance(found, dict) else found
    return [s for s in found if isinstance(s, dict)] if isinstance(found, list) else []


def _allowed(policy: Any, role: str) -> bool:
    """Whether the policy lets `role` make every call Confluent makes, and denies none of them."""
    statements = [s for s in _statements(policy) if _names(s.get("Principal"), role) and not s.get("Condition")]
    wanted = [action for actions in REQUIRED_ACTIONS.values() for action in actions]
    allowed = {a for a in wanted if any(s.get("Effect") == "Allow" and _covers(s, a) for s in statements)}
    denied = {a for a in wanted if any(s.get("Effect") == "Deny" and _covers(s, a) for s in statements)}
    return allowed == set(wanted) and not denied


def _names(principal: Any, role: str) -> bool:
    if principal == "*":
        return True
    values = principal.get("AWS") if isinstance(principal, dict) else None
    values = [values] if isinstance(values, str) else values or []
    return role in values or "*" in values


def _covers(statement: dict[str, Any], action: str) -> bool:
    actions = statement.get("Action")
    actions = [actions] if isinstance(actions, str) else actions or []
    return any(isinstance(a, str) and fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions)
