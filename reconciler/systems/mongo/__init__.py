"""Azure Cosmos DB for MongoDB vCore with a customer-managed key (seed 003).

A registration names a cluster, the user-assigned identity the cluster reads its key as, and the
key. A new cluster is created with the identity attached and `customerManagedKeyEncryption` set
to that identity and the key's **versionless** URI (so that it follows rotation). On an existing
customer-key cluster, a new key or identity is one update that sends both, as the procedure
requires. Service-managed or customer-managed is chosen at creation for the cluster's lifetime:
an existing service-managed cluster is refused at plan, with the procedure's way out (a replica
or a restore created with the new mode).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.core.errors import Diagnostic
from reconciler.core.kinds import KindSpec
from reconciler.core.secrets import from_environment
from reconciler.manifest.context import ResolveContext
from reconciler.manifest.grants import can_use_key, environment_reference
from reconciler.manifest.keyref import KeyReference, find_key, parse_key_reference
from reconciler.manifest.model import KeySet, Principal, Region, Registration, Source, Vault
from reconciler.manifest.yamlsource import JsonPath
from reconciler.plan.model import Resource, Unknown
from reconciler.plugins.addresses import key_address, tags
from reconciler.plugins.base import ExpandContext, ExportPart, ExportRegion, Plugin
from reconciler.providers.plumbing import PlaneHandlers, Plumbing
from reconciler.systems.identities import identity_address, identity_resource_id, missing_identity
from reconciler.systems.mongo import export
from reconciler.systems.mongo.health import MONGO_HEALTH
from reconciler.systems.mongo.schema import FRAGMENT

CUSTOMER_MANAGED = "CustomerManagedKey"
SERVICE_MANAGED = "ServiceManagedKey"
ENCRYPTION_MODE_FIXED = (
    "a Mongo vCore cluster's encryption mode is chosen at creation and can never change; to encrypt this data "
    "with a customer-managed key, create a replica cluster or restore the cluster with customer-managed key "
    "encryption selected, then declare that cluster here"
)
CREATED_WITH_CMK = (
    "the cluster's encryption mode (customer-managed key) is fixed at creation: it can never switch to "
    "service-managed encryption; only a replica or a restore can change it"
)

MONGO_CLUSTER = KindSpec(
    # identity: subscriptionId, resourceGroup, name
    # attributes: location, encryptionMode (CustomerManagedKey | ServiceManagedKey),
    #   customerManagedKeyEncryption {keyEncryptionKeyIdentity {identityType, userAssignedIdentityResourceId},
    #   keyEncryptionKeyUrl} (one attribute: a change of key or identity sends both);
    #   create-only: tags, administrator {userName}, administratorPassword {env, sensitive} (the value is
    #   read from the environment at apply), compute, storage, sharding, highAvailability, serverVersion
    # outputs: id, identityType, userAssignedIdentities (resource IDs, lower case), provisioningState
    kind="mongo_cluster",
    plane="arm",
    immutable={
        "location": "a cluster cannot move to another region",
        "encryptionMode": ENCRYPTION_MODE_FIXED,
    },
    irreversible_create=CREATED_WITH_CMK,
    rules={"encryptionMode": "R-MONGO-ENCRYPTION-MODE"},
    create_only=frozenset({"tags", "administrator", "administratorPassword", "compute", "storage", "sharding",
                           "highAvailability", "serverVersion"}),
    case_insensitive=frozenset({
        "location", "encryptionMode", "customerManagedKeyEncryption.keyEncryptionKeyIdentity.identityType",
        "customerManagedKeyEncryption.keyEncryptionKeyIdentity.userAssignedIdentityResourceId",
    }),
)


@dataclass(frozen=True)
class MongoCreate:
    """What a new cluster is created with; never compared with a live one."""

    user_name: str
    password_env: str | None
    compute_tier: str
    storage_gb: int
    shard_count: int | None
    high_availability: str | None
    server_version: str | None


@dataclass(frozen=True)
class MongoRegistration(Registration):
    cluster: str
    resource_group: str
    identity: str
    key: KeyReference
    create: MongoCreate | None


def cluster_address(region: str, cluster: str) -> str:
    return f"mongo_cluster.{region}.{cluster}"


class Mongo(Plugin):
    schema_fragment = FRAGMENT
    name = "mongo"
    registration_key = "mongo"
    kinds = (MONGO_CLUSTER,)
    health = MONGO_HEALTH

    def resolve_registration(self, context: ResolveContext, region: str, path: JsonPath,
                             raw: Mapping[str, Any]) -> Registration | None:
        source = context.source(path)
        create = _create(context, (*path, "create"), raw["create"]) if "create" in raw else None
        return MongoRegistration(region, source, cluster=raw["cluster"], resource_group=raw["resourceGroup"],
                                 identity=raw["identity"],
                                 key=parse_key_reference(context, source, "key", raw["key"], "Mongo vCore"),
                                 create=create)

    def check_references(self, context: ResolveContext, key_set: KeySet, region: Region) -> None:
        for registration in region.registrations_of(MongoRegistration):
            find_key(context, key_set, region, registration.key, registration.source, "key", "Mongo vCore")
            if region.identity(registration.identity) is None:
                context.problems.append(missing_identity(key_set, region, registration.identity,
                                                         registration.source, "identity"))

    def rules(self, key_set: KeySet) -> Iterator[Diagnostic]:
        for check in (_accounts_declared, _one_registration_per_cluster, _key_is_rsa, _purge_protection,
                      _vault_reachable, _identity_can_use_key):
            yield from check(key_set)

    def resources(self, context: ExpandContext, region: Region) -> list[Resource]:
        return [_cluster(context, region, r) for r in region.registrations_of(MongoRegistration)]

    def export_azure(self, region: ExportRegion) -> ExportPart:
        return export.export_azure(region)

    def build_handlers(self, plumbing: Plumbing) -> PlaneHandlers:
        from reconciler.providers.azure_mongo import MongoClusterHandler, clusters_in

        subscription = plumbing.accounts.azure_subscription_id or ""
        return PlaneHandlers({MONGO_CLUSTER.kind: MongoClusterHandler(plumbing.azure, plumbing.variables)}, listings={
            "mongo_clusters": lambda location: clusters_in(plumbing.azure, subscription, location)})


# ---------------------------------------------------------------------------------------------
# resolving


def _create(context: ResolveContext, path: JsonPath, raw: Mapping[str, Any]) -> MongoCreate:
    administrator = raw["administrator"]
    return MongoCreate(
        user_name=administrator["userName"],
        password_env=_password_env(context, context.source((*path, "administrator")), administrator),
        compute_tier=raw["compute"]["tier"],
        storage_gb=raw["storage"]["sizeGb"],
        shard_count=raw.get("sharding", {}).get("shardCount"),
        high_availability=raw.get("highAvailability", {}).get("targetMode"),
        server_version=raw.get("serverVersion"),
    )


def _password_env(context: ResolveContext, source: Source, raw: Mapping[str, Any]) -> str | None:
    """The variable holding the administrator password; the password itself never enters a manifest.

    The schema lets `password` and `passwordFrom` through untyped so that no message ever echoes
    what was written there: a password pasted in the wrong place must not end up in CI logs.
    """
    if "password" in raw:
        context.problem(source, "password", "a password is never written in a manifest: name the environment "
                        "variable that holds it (passwordFrom: {env: NAME})", "E-INLINE-SECRET")
        return None
    given = raw.get("passwordFrom")
    return environment_reference(context, source, "passwordFrom", given, "the administrator password")


# ---------------------------------------------------------------------------------------------
# expanding


def _cluster(context: ExpandContext, region: Region, registration: MongoRegistration) -> Resource:
    key = region.key(registration.key.name)
    identity = region.identity(registration.identity)
    assert key is not None and identity is not None, "the loader resolved the registration's key and identity"
    subscription = context.key_set.accounts.azure_subscription_id or ""
    key_at = key_address(region.name, key.vault, key.name)
    attributes: dict[str, Any] = {
        "location": region.name,
        "encryptionMode": CUSTOMER_MANAGED,
        "customerManagedKeyEncryption": {
            "keyEncryptionKeyIdentity": {
                "identityType": "UserAssignedIdentity",
                "userAssignedIdentityResourceId": identity_resource_id(subscription, identity.resource_group,
                                                                       identity.name),
            },
            # Versionless: the cluster follows the key's rotation.
            "keyEncryptionKeyUrl": Unknown(key_at, "keyUri"),
        },
        "tags": tags(context.key_set),
    }
    if registration.create is not None:
        attributes.update(create_attributes(registration.create))
    # The cluster cannot be created, nor re-keyed, until its identity can use the key.
    grants = _grants(context, region, key.vault, registration.identity)
    return Resource(
        address=cluster_address(region.name, registration.cluster),
        kind=MONGO_CLUSTER.kind,
        region=region.name,
        identity={"subscriptionId": subscription, "resourceGroup": registration.resource_group,
                  "name": registration.cluster},
        attributes=attributes,
        depends_on=(identity_address(region.name, identity.name), key_at, *grants),
        source=str(registration.source),
    )


def create_attributes(create: MongoCreate) -> dict[str, Any]:
    """The settings a new cluster needs; the password only as the variable that holds it."""
    attributes: dict[str, Any] = {
        "administrator": {"userName": create.user_name},
        "administratorPassword": from_environment(create.password_env),
        "compute": {"tier": create.compute_tier},
        "storage": {"sizeGb": create.storage_gb},
    }
    if create.shard_count is not None:
        attributes["sharding"] = {"shardCount": create.shard_count}
    if create.high_availability is not None:
        attributes["highAvailability"] = {"targetMode": create.high_availability}
    if create.server_version is not None:
        attributes["serverVersion"] = create.server_version
    return attributes


def _grants(context: ExpandContext, region: Region, vault: str, identity: str) -> list[str]:
    from reconciler.systems.access_policies import policies_granting

    principal = Principal("identity", identity)
    return [*context.grants_to(region.name, vault, principal),
            *policies_granting(context, region, vault, principal)]


# ---------------------------------------------------------------------------------------------
# rules


def _vault_of(region: Region, registration: MongoRegistration) -> Vault | None:
    key = region.key(registration.key.name)
    return region.vault(key.vault) if key else None


def _accounts_declared(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ACCOUNTS: clusters are created only in the tenant and subscription the manifest names."""
    accounts = key_set.accounts
    if any(True for _ in key_set.registered(MongoRegistration)) and (accounts.azure_subscription_id is None
                                                    or accounts.azure_tenant_id is None):
        yield key_set.source.at("", "Mongo vCore registrations are declared but accounts.azure (tenantId, "
                                "subscriptionId) is missing", "R-ACCOUNTS")


def _one_registration_per_cluster(key_set: KeySet) -> Iterator[Diagnostic]:
    """E-DUPLICATE: a cluster has one key; two declarations would fight over it."""
    seen: dict[tuple[str, str], MongoRegistration] = {}
    for _region, registration in key_set.registered(MongoRegistration):
        first = seen.setdefault((registration.resource_group.lower(), registration.cluster), registration)
        if first is not registration:
            yield registration.source.at("cluster", f"cluster {registration.cluster!r} is declared twice (first at "
                                         f"line {first.source.line})", "E-DUPLICATE")


def _key_is_rsa(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-MONGO-KEY-TYPE: the cluster wraps its data key with the key: an RSA key."""
    for region, registration in key_set.registered(MongoRegistration):
        key = region.key(registration.key.name)
        if key is not None and not key.is_rsa:
            yield key.source.at("type", f"key {key.name!r} is {key.type}; Mongo vCore wraps its data key with an RSA "
                                "key (RSA, or RSA-HSM in a premium vault)", "R-MONGO-KEY-TYPE")


def _purge_protection(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-MONGO-PURGE: Cosmos DB requires soft delete and purge protection on a vault holding its keys."""
    for region, registration in key_set.registered(MongoRegistration):
        vault = _vault_of(region, registration)
        if vault is not None and not vault.purge_protection:
            yield vault.source.at("purgeProtection", f"vault {vault.name!r} holds the key of Mongo vCore cluster "
                                  f"{registration.cluster!r}: Cosmos DB requires purge protection on it "
                                  "(purgeProtection: true)", "R-MONGO-PURGE")


def _vault_reachable(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-MONGO-BYPASS: a vault closed to public networks must let trusted Microsoft services through."""
    for region, registration in key_set.registered(MongoRegistration):
        vault = _vault_of(region, registration)
        if vault is not None and vault.public_network == "Deny" and not vault.trusted_services_bypass:
            yield vault.source.at("trustedServicesBypass", f"vault {vault.name!r} denies public networks and does "
                                  f"not let trusted Microsoft services bypass its firewall: Mongo vCore cluster "
                                  f"{registration.cluster!r} could not reach its key (trustedServicesBypass: true)",
                                  "R-MONGO-BYPASS")


def _identity_can_use_key(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-MONGO-GRANT: the cluster's identity may get, wrap and unwrap its key (a role or an access policy)."""
    for region, registration in key_set.registered(MongoRegistration):
        key = region.key(registration.key.name)
        vault = _vault_of(region, registration)
        if key is None or vault is None:
            continue
        principal = Principal("identity", registration.identity)
        if can_use_key(region, vault.name, key.name, principal):
            continue
        how = (f"an access policy on vault {vault.name!r} with keys [get, wrapKey, unwrapKey]"
               if vault.authorization == "accessPolicies" else
               f"a role assignment of 'Key Vault Crypto Service Encryption User' on vault {vault.name!r}")
        yield registration.source.at("identity", f"identity {registration.identity!r} of Mongo vCore cluster "
                                     f"{registration.cluster!r} cannot use key {key.name!r}: add {how} for principal "
                                     f"{{identity: {registration.identity}}}", "R-MONGO-GRANT")


