"""AWS KMS: symmetric keys with an alias, rotation, tags, and a key policy merged statement by statement.

A key's policy holds the statements the consumers' procedures require (see `reconciler.core.kms_policy`)
for the principals its `policy.allow` names, which other systems resolve (Astra: one creator role
per provider ID), plus the owner's statements as written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reconciler.core import kms_policy
from reconciler.core.errors import Diagnostic
from reconciler.core.kinds import AWS_KMS_KEY
from reconciler.manifest.model import KeySet, KmsKey, Principal, Region
from reconciler.plan.model import Resource
from reconciler.plugins.addresses import tags
from reconciler.plugins.base import ExpandContext, Plugin, PrincipalTarget
from reconciler.systems.regions import unknown_aws_regions

KEY_SPEC = "SYMMETRIC_DEFAULT"
KEY_USAGE = "ENCRYPT_DECRYPT"


def kms_key_address(region: str, alias: str) -> str:
    return f"aws_kms_key.{region}.{alias.removeprefix('alias/')}"


class AwsKms(Plugin):
    name = "aws-kms"
    principal_kinds = frozenset({"aws"})
    kinds = (AWS_KMS_KEY,)

    def rules(self, key_set: KeySet) -> Iterator[Diagnostic]:
        for check in (unknown_aws_regions, _account_declared, _no_unconditioned_wildcard, _reserved_sids,
                      _no_lockout, _well_formed_principals):
            yield from check(key_set)

    def principals(self, context: ExpandContext, region: Region, principal: Principal,
                   source: str) -> list[PrincipalTarget]:
        arn = kms_policy.principal_arn(principal.value)
        return [PrincipalTarget(f"aws-{principal.value}", arn, principal_type="AWS")]

    def resources(self, context: ExpandContext, region: Region) -> list[Resource]:
        return [_kms_key(context, region, key) for key in region.kms_keys]


def _kms_key(context: ExpandContext, region: Region, key: KmsKey) -> Resource:
    address = kms_key_address(region.name, key.alias)
    external: list[str] = []
    depends: list[str] = []
    for principal in key.allow:
        for target in context.principal_plugins[principal.kind].principals(context, region, principal, str(key.source)):
            external.append(str(target.principal_id))
            depends += [target.depends_on] if target.depends_on else []
    account = context.key_set.accounts.aws_account_id or ""
    statements = kms_policy.declared_statements(account, external, key.statements)
    attributes: dict[str, Any] = {
        "description": key.description,
        "enableKeyRotation": key.rotation,
        "keySpec": KEY_SPEC,
        "keyUsage": KEY_USAGE,
        **{kms_policy.attribute_name(sid): statement for sid, statement in statements.items()},
        # The address lets a re-run find a key whose creation was cut short before its alias existed.
        "tags": {**tags(context.key_set), "cmkctl-address": address},
    }
    return Resource(
        address=address,
        kind="aws_kms_key",
        region=region.name,
        identity={"accountId": account, "region": region.name, "alias": key.alias},
        attributes=attributes,
        depends_on=tuple(dict.fromkeys(depends)),
        source=str(key.source),
    )


def _keys(key_set: KeySet) -> Iterator[tuple[Region, KmsKey]]:
    for region in key_set.regions:
        for key in region.kms_keys:
            yield region, key


def _account_declared(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ACCOUNTS: cmkctl acts only in the AWS account the manifest names (and checks it with STS)."""
    if any(True for _ in _keys(key_set)) and key_set.accounts.aws_account_id is None:
        yield key_set.source.at("", "AWS KMS keys are declared but accounts.aws.accountId is missing", "R-ACCOUNTS")


def _no_unconditioned_wildcard(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-KMS-WILDCARD: "Principal": "*" without a condition opens the key to every AWS account."""
    for _, key in _keys(key_set):
        for sid in kms_policy.unconditioned_wildcards(key.statements):
            yield key.source.at("policy", f"statement {sid!r} of {key.alias} names any principal (\"*\") without "
                                "a Condition: that lets every AWS account use the key (or, as a Deny, locks "
                                "everyone out); name the principals, or add a Condition", "R-KMS-WILDCARD")


def _reserved_sids(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-KMS-RESERVED-SID: the external-account statements are written by cmkctl from policy.allow."""
    for _, key in _keys(key_set):
        for statement in key.statements:
            if statement["Sid"] in kms_policy.RESERVED_SIDS:
                yield key.source.at("policy", f"statement {statement['Sid']!r} of {key.alias} is written by "
                                    "cmkctl with exactly the actions the procedure lists: name its principals in "
                                    "policy.allow instead", "R-KMS-RESERVED-SID")


def _no_lockout(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-KMS-LOCKOUT: the account root must stay able to change the key policy, or nobody can repair it."""
    account = key_set.accounts.aws_account_id
    if account is None:
        return
    root = kms_policy.root_arn(account)
    for _, key in _keys(key_set):
        statements = kms_policy.declared_statements(account, [], key.statements).values()
        if not kms_policy.can_manage(statements, [root]):
            yield key.source.at("policy", f"the key policy of {key.alias} would lock the account out: no "
                                f"unconditioned statement lets the account root ({root}) call "
                                f"{kms_policy.MANAGE_ACTION}, or a Deny takes it away; keep the "
                                f"{kms_policy.ROOT_SID!r} statement", "R-KMS-LOCKOUT")


def _well_formed_principals(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-KMS-PRINCIPAL: KMS refuses a policy whose principals are not of IAM's forms (an emulator stores any)."""
    for _, key in _keys(key_set):
        for statement in key.statements:
            for problem in kms_policy.malformed_principals(statement):
                yield key.source.at("policy", f"statement {statement['Sid']!r} of {key.alias}: {problem}; KMS "
                                    "would refuse the key policy (MalformedPolicyDocumentException)",
                                    "R-KMS-PRINCIPAL")
