"""Confluent Cloud Dedicated Kafka on AWS with a self-managed key (BYOK) in AWS KMS.

The chain Confluent's example describes (confluentinc/terraform-provider-confluent,
examples/configurations/dedicated-public-aws-byok-kafka-acls): the KMS key is registered with
Confluent (a BYOK key, byok/v1 `AwsKey`), Confluent answers the IAM roles that will use it, a
statement lets those roles use the key ("Allow KMS Use"), and only once Confluent has validated
the key is the Dedicated cluster created with it. The roles exist only after the registration, so
the statement's principals are known after apply; it is merged by Sid into the key's policy, the
owner's statements staying as written.

A BYOK key is immutable: its identity is the KMS key's ARN, so declaring another key declares a new
BYOK key; the old one simply leaves the manifest, and nothing deletes it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.core import kms_policy
from reconciler.core.errors import Diagnostic
from reconciler.core.kinds import KindSpec
from reconciler.manifest.context import ResolveContext
from reconciler.manifest.keyref import KeyReference
from reconciler.manifest.model import KeySet, KmsKey, Region, Registration
from reconciler.manifest.yamlsource import JsonPath
from reconciler.plan.model import Declared, Resource, Unknown
from reconciler.plugins.base import ExpandContext, Plugin, Refusal
from reconciler.providers.plumbing import PlaneHandlers, Plumbing
from reconciler.systems import confluent
from reconciler.systems.astra import find_kms_key
from reconciler.systems.aws_kms import KEY_SPEC, kms_key_address
from reconciler.systems.confluent_aws.health import confluent_aws_health
from reconciler.systems.confluent_aws.schema import FRAGMENT

# Confluent's example names the statement so; cmkctl writes it, with exactly the example's actions.
CONFLUENT_SID = "Allow KMS Use"
CONFLUENT_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey",
                     "kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant")

AWS_BYOK_KEY = KindSpec(
    # identity: keyArn (the KMS key's ARN)
    # attributes: none (a BYOK key is immutable)
    # outputs: id (cck-...), keyArn, roles (the IAM roles Confluent made for the key), state, validationPhase
    kind="confluent_aws_byok_key",
    plane="confluent",
    irreversible_create="a BYOK key is immutable and cmkctl never deletes one; another KMS key is registered "
                        "as a new BYOK key",
)
AWS_KEY_POLICY = KindSpec(
    # identity: accountId, region, alias (those of the KMS key)
    # attributes: policy[Allow KMS Use] (the statement for Confluent's roles)
    kind="confluent_aws_key_policy",
    plane="aws",
)
AWS_CLUSTER = KindSpec(
    # identity: environmentId, displayName
    # attributes: cloud (AWS), region, availability, kind (Dedicated), cku, byokKeyId
    # outputs: id (lkc-...), phase
    kind="confluent_aws_cluster",
    plane="confluent",
    immutable={name: reason for name, reason in confluent.CONFLUENT_CLUSTER.immutable.items() if name != "network"},
    irreversible_create="the cluster's encryption mode (Self-managed, with this key) is fixed at creation",
    rules={"byokKeyId": "R-CONFLUENT-ENCRYPTION-MODE"},
    live_null={"byokKeyId": "Automatic"},
)


@dataclass(frozen=True)
class ConfluentAwsRegistration(Registration):
    key: KeyReference
    cluster: confluent.ConfluentCluster | None


def byok_address(region: str, alias: str) -> str:
    return f"confluent_aws_byok_key.{region}.{alias.removeprefix('alias/')}"


def policy_address(region: str, alias: str) -> str:
    return f"confluent_aws_key_policy.{region}.{alias.removeprefix('alias/')}"


def cluster_address(region: str, name: str) -> str:
    return f"confluent_aws_cluster.{region}.{name}"


class ConfluentAws(Plugin):
    schema_fragment = FRAGMENT
    name = "confluent-aws"
    registration_key = "confluent"
    registration_clouds = frozenset({"aws"})
    kinds = (AWS_BYOK_KEY, AWS_KEY_POLICY, AWS_CLUSTER)
    health = confluent_aws_health(CONFLUENT_SID)

    def resolve_registration(self, context: ResolveContext, region: str, path: JsonPath,
                             raw: Mapping[str, Any]) -> Registration | None:
        source = context.source(path)
        cluster = raw.get("cluster")
        parsed = _parse_cluster(context, path, cluster) if cluster else None
        return ConfluentAwsRegistration(region, source, KeyReference(raw["key"]), parsed)

    def check_references(self, context: ResolveContext, key_set: KeySet, region: Region) -> None:
        registered: dict[str, ConfluentAwsRegistration] = {}
        for registration in region.registrations_of(ConfluentAwsRegistration):
            find_kms_key(context, key_set, region, registration.key.name, registration.source, "Confluent")
            first = registered.setdefault(registration.key.name, registration)
            if first is not registration:
                context.problem(registration.source, "key", f"key {registration.key.name!r} is registered with "
                                f"Confluent twice (first at line {first.source.line}); Confluent takes one key per "
                                "Kafka cluster, so declare another KMS key for another cluster", "E-DUPLICATE")

    def rules(self, key_set: KeySet) -> Iterator[Diagnostic]:
        for check in (_environment_declared, _reserved_sid, _cluster_names_unique):
            yield from check(key_set)

    def resources(self, context: ExpandContext, region: Region) -> list[Resource]:
        found: list[Resource] = []
        for registration in region.registrations_of(ConfluentAwsRegistration):
            key = region.kms_key(registration.key.name)
            assert key is not None, "the loader resolved every registration's key"
            found += [_byok_key(region, registration, key), _key_policy(context, region, key)]
            if registration.cluster is not None:
                found.append(_cluster(context, region, registration, key))
        return found

    def refusal(self, resource: Resource, live: Mapping[str, Any]) -> Refusal | None:
        """R-CONFLUENT-KEY-TYPE: an existing key found by its alias must be symmetric, as Confluent needs."""
        if resource.kind != AWS_KEY_POLICY.kind or live.get("keySpec") in (None, KEY_SPEC):
            return None
        return Refusal(f"{resource.identity['alias']} names a {live['keySpec']} KMS key; Confluent needs a "
                       f"symmetric key ({KEY_SPEC}): declare another alias", "R-CONFLUENT-KEY-TYPE")

    def build_handlers(self, plumbing: Plumbing) -> PlaneHandlers:
        from reconciler.systems.confluent_aws import handlers

        return handlers.build(plumbing)


def _parse_cluster(context: ResolveContext, path: JsonPath, raw: Mapping[str, Any]) -> confluent.ConfluentCluster:
    # The schema's defaults (confluentCluster), as the Azure plug-in reads them.
    return confluent.ConfluentCluster(name=raw["name"], availability=raw.get("availability", "MULTI_ZONE"),
                                      cku=raw.get("cku", 2), network=raw.get("network"),
                                      source=context.source((*path, "cluster")))


def _registered(key_set: KeySet) -> Iterator[tuple[Region, ConfluentAwsRegistration, KmsKey]]:
    for region in key_set.regions:
        for registration in region.registrations_of(ConfluentAwsRegistration):
            key = region.kms_key(registration.key.name)
            if key is not None:
                yield region, registration, key


def _byok_key(region: Region, registration: ConfluentAwsRegistration, key: KmsKey) -> Resource:
    key_at = kms_key_address(region.name, key.alias)
    return Resource(
        address=byok_address(region.name, key.alias),
        kind=AWS_BYOK_KEY.kind,
        region=region.name,
        identity={"keyArn": Unknown(key_at, "arn")},
        depends_on=(key_at,),
        source=str(registration.source),
    )


def confluent_statement(roles: Any) -> dict[str, Any]:
    """The example's statement, in the canonical form the KMS key's live policy is compared in."""
    statement = kms_policy.canonical({"Effect": "Allow", "Principal": {"AWS": "ROLES"},
                                      "Action": list(CONFLUENT_ACTIONS), "Resource": "*"})
    return {**statement, "Principal": {"AWS": roles}}


def _key_policy(context: ExpandContext, region: Region, key: KmsKey) -> Resource:
    byok_at = byok_address(region.name, key.alias)
    key_at = kms_key_address(region.name, key.alias)
    account = context.key_set.accounts.aws_account_id or ""
    return Resource(
        address=policy_address(region.name, key.alias),
        kind=AWS_KEY_POLICY.kind,
        region=region.name,
        identity={"accountId": account, "region": region.name, "alias": key.alias},
        # The roles exist once Confluent has registered the key: known after apply until then.
        attributes={kms_policy.attribute_name(CONFLUENT_SID): confluent_statement(Unknown(byok_at, "roles"))},
        depends_on=(key_at, byok_at),
        source=str(key.source),
    )


def _cluster(context: ExpandContext, region: Region, registration: ConfluentAwsRegistration,
             key: KmsKey) -> Resource:
    cluster = registration.cluster
    assert cluster is not None, "only a registration naming a cluster declares one"
    byok_at = byok_address(region.name, key.alias)
    attributes: dict[str, Any] = {
        "cloud": "AWS",
        "region": region.name,
        "availability": cluster.availability,
        "kind": "Dedicated",
        "cku": cluster.cku,
        "byokKeyId": Unknown(byok_at, "id"),
    }
    if cluster.network is not None:
        attributes["network"] = cluster.network
    return Resource(
        address=cluster_address(region.name, cluster.name),
        kind=AWS_CLUSTER.kind,
        region=region.name,
        identity={"environmentId": context.key_set.accounts.of("confluent", "environmentId"),
                  "displayName": cluster.name},
        attributes=attributes,
        # As the example's `depends_on`: the cluster after the key policy that lets Confluent in.
        depends_on=(byok_at, policy_address(region.name, key.alias)),
        source=str(cluster.source),
        declared={"byokKeyId": Declared("key", key.alias, registration.source.location("key"))},
    )


# ---- Rules -----------------------------------------------------------------------------------


def _environment_declared(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ACCOUNTS: clusters are created only in the environment the manifest names."""
    if key_set.accounts.of("confluent", "environmentId") is not None:
        return
    for _, registration, _ in _registered(key_set):
        if registration.cluster is not None:
            yield registration.cluster.source.at("name", "a Confluent cluster is declared but "
                                                 "accounts.confluent.environmentId is missing", "R-ACCOUNTS")


def _reserved_sid(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-KMS-RESERVED-SID: the statement for Confluent's roles is written by cmkctl from the registration."""
    for _, _, key in _registered(key_set):
        for statement in key.statements:
            if statement["Sid"] == CONFLUENT_SID:
                yield key.source.at("policy", f"statement {CONFLUENT_SID!r} of {key.alias} is written by cmkctl "
                                    "for the roles Confluent returns when the key is registered: remove it",
                                    "R-KMS-RESERVED-SID")


def _cluster_names_unique(key_set: KeySet) -> Iterator[Diagnostic]:
    """E-DUPLICATE: clusters are found by name in the environment, on Azure and AWS alike."""
    seen: dict[str, tuple[confluent.ConfluentCluster, bool]] = {}
    for region in key_set.regions:
        for registration in region.registrations:
            cluster = getattr(registration, "cluster", None)
            if not isinstance(cluster, confluent.ConfluentCluster):
                continue
            on_aws = isinstance(registration, ConfluentAwsRegistration)
            first, first_on_aws = seen.setdefault(cluster.name, (cluster, on_aws))
            # Two Azure clusters of one name are the Azure plug-in's to report.
            if first is not cluster and (on_aws or first_on_aws):
                yield cluster.source.at("name", f"cluster {cluster.name!r} is declared twice (first at "
                                        f"{first.source})", "E-DUPLICATE")
