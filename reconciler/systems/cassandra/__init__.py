"""Azure Managed Instance for Apache Cassandra with customer-managed keys (seed 002).

A registration declares a cluster and its data centers. cmkctl gives the cluster a system-assigned
identity (adding one to an existing cluster), grants the Cosmos DB service principal Network
Contributor on the cluster's virtual network (the procedure's prerequisite), and creates or updates
each data center with the **versioned** URIs of its disk and backup keys: Cassandra takes the
current version of a key, not the key, so a key that gets a new version means a data-center update
(the procedure's "Rotate the key"), unless the data center pins a version.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.core.errors import Diagnostic
from reconciler.core.kinds import KindSpec
from reconciler.core.roles import role_definition_id
from reconciler.core.secrets import from_environment
from reconciler.manifest.context import ResolveContext
from reconciler.manifest.grants import can_use_key, environment_reference
from reconciler.manifest.keyref import KeyReference, find_key, parse_key_reference
from reconciler.manifest.model import (
    AccessPolicy,
    KeySet,
    Principal,
    Region,
    Registration,
    RoleAssignment,
    Source,
)
from reconciler.manifest.yamlsource import JsonPath
from reconciler.plan.model import Resource, Unknown
from reconciler.plugins.addresses import key_address, tags
from reconciler.plugins.base import ExpandContext, ExportPart, ExportRegion, Plugin, PrincipalTarget
from reconciler.providers.plumbing import PlaneHandlers, Plumbing
from reconciler.systems import azure_ad
from reconciler.systems.access_policies import policies_granting
from reconciler.systems.cassandra import export
from reconciler.systems.cassandra.health import CASSANDRA_HEALTH
from reconciler.systems.cassandra.schema import FRAGMENT

# The "Azure Cosmos DB" first-party application: it manages the cluster's network interfaces.
COSMOS_DB_APP_ID = "a232010e-820c-4083-83bb-3ace5fc29d0b"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
LATEST = "latest"
PURGE_PROTECTION_REASON = "Datacenter deployments will fail without it"
VNET_GRANT_DESCRIPTION = ("cmkctl: prerequisite of Managed Instance for Apache Cassandra: the Azure Cosmos DB service "
                          f"principal ({COSMOS_DB_APP_ID}) manages the cluster's network in this virtual network")

_SUBNET = re.compile(r"^(?P<vnet>/subscriptions/[^/]+/resourceGroups/(?P<group>[^/]+)/providers/Microsoft\.Network/"
                     r"virtualNetworks/(?P<name>[^/]+))/subnets/[^/]+/?$", re.IGNORECASE)

CASSANDRA_CLUSTER = KindSpec(
    # identity: subscriptionId, resourceGroup, name
    # attributes: location, identityType (SystemAssigned), delegatedManagementSubnetId, cassandraVersion?,
    #   tags (create-only), initialAdminPasswordFrom {env: NAME} (create-only; the value is read at apply)
    # outputs: id, principalId (only once the cluster has a system-assigned identity), provisioningState
    kind="cassandra_cluster",
    plane="arm",
    immutable={
        "location": "a cluster cannot move to another region",
        "delegatedManagementSubnetId": "a cluster's management subnet is fixed at creation",
    },
    create_only=frozenset({"tags", "initialAdminPasswordFrom"}),
    case_insensitive=frozenset({"location", "identityType", "delegatedManagementSubnetId"}),
)

CASSANDRA_DATA_CENTER = KindSpec(
    # identity: subscriptionId, resourceGroup, cluster, name
    # attributes: dataCenterLocation, delegatedSubnetId, nodeCount, sku?, managedDiskCustomerKeyUri,
    #   backupStorageCustomerKeyUri (versioned key URIs)
    # outputs: id, provisioningState
    kind="cassandra_data_center",
    plane="arm",
    immutable={
        "dataCenterLocation": "a data center cannot move to another region",
        "delegatedSubnetId": "a data center's subnet is fixed at creation",
    },
    case_insensitive=frozenset({"dataCenterLocation", "delegatedSubnetId"}),
    change_notes=dict.fromkeys(
        ("managedDiskCustomerKeyUri", "backupStorageCustomerKeyUri"),
        "the data center moves to another key version: with keyVersion: latest, the key's current one "
        "after a rotation (the procedure's 'Rotate the key')",
    ),
)


@dataclass(frozen=True)
class CassandraDataCenter:
    name: str
    location: str
    node_count: int
    sku: str | None
    delegated_subnet_id: str
    # None follows the key's latest version; otherwise the pinned version.
    key_version: str | None
    backup_key_version: str | None
    source: Source


@dataclass(frozen=True)
class CassandraRegistration(Registration):
    cluster: str
    resource_group: str
    location: str
    management_subnet_id: str
    cassandra_version: str | None
    password_env: str | None
    key: KeyReference
    backup_key: KeyReference
    data_centers: tuple[CassandraDataCenter, ...]


def cluster_address(region: str, cluster: str) -> str:
    return f"cassandra_cluster.{region}.{cluster}"


def data_center_address(region: str, cluster: str, data_center: str) -> str:
    return f"cassandra_data_center.{region}.{cluster}/{data_center}"


def normal_location(location: str) -> str:
    """ARM answers "West US 2" where manifests say westus2."""
    return location.replace(" ", "").lower()


def vnet_of(subnet_id: str) -> tuple[str, str] | None:
    """(VNet resource ID, RESOURCE_GROUP/VNET label) of a subnet ID."""
    match = _SUBNET.match(subnet_id)
    # A VNet's name is unique only within its resource group, and the grant's address must be unique.
    return (match["vnet"], f"{match['group']}/{match['name']}") if match else None


class Cassandra(Plugin):
    schema_fragment = FRAGMENT
    name = "cassandra"
    registration_key = "cassandra"
    principal_kinds = frozenset({"cassandraCluster"})
    kinds = (CASSANDRA_CLUSTER, CASSANDRA_DATA_CENTER)
    health = CASSANDRA_HEALTH

    def resolve_registration(self, context: ResolveContext, region: str, path: JsonPath,
                             raw: Mapping[str, Any]) -> Registration | None:
        source = context.source(path)
        key = parse_key_reference(context, source, "key", raw["key"], "Cassandra")
        backup = parse_key_reference(context, source, "backupKey", raw["backupKey"], "Cassandra") \
            if "backupKey" in raw else key
        centers = tuple(_data_center(context, region, (*path, "dataCenters", i), dc, same_key=backup == key)
                        for i, dc in enumerate(raw["dataCenters"]))
        return CassandraRegistration(
            region, source, cluster=raw["cluster"], resource_group=raw["resourceGroup"],
            location=normal_location(raw.get("location", region)),
            management_subnet_id=raw["delegatedManagementSubnetId"], cassandra_version=raw.get("cassandraVersion"),
            password_env=_password_env(context, source, raw), key=key, backup_key=backup, data_centers=centers,
        )

    def check_references(self, context: ResolveContext, key_set: KeySet, region: Region) -> None:
        for registration in region.registrations_of(CassandraRegistration):
            find_key(context, key_set, region, registration.key, registration.source, "key", "Cassandra")
            if registration.backup_key != registration.key:
                find_key(context, key_set, region, registration.backup_key, registration.source, "backupKey",
                         "Cassandra")

    def rules(self, key_set: KeySet) -> Iterator[Diagnostic]:
        for check in (_accounts_declared, _one_registration_per_cluster, _purge_protection, _vault_reachable,
                      _key_is_rsa, _data_center_in_region, _subnets_in_a_vnet, _principal_is_a_declared_cluster,
                      _cluster_can_use_keys):
            yield from check(key_set)

    def principals(self, context: ExpandContext, region: Region, principal: Principal,
                   source: str) -> list[PrincipalTarget]:
        # The system-assigned identity: its object ID exists once the cluster has the identity.
        at = cluster_address(region.name, principal.value)
        return [PrincipalTarget(f"cassandra-{principal.value}", Unknown(at, "principalId"), at)]

    def resources(self, context: ExpandContext, region: Region) -> list[Resource]:
        found: list[Resource] = []
        for registration in region.registrations_of(CassandraRegistration):
            found.append(_cluster(context, region, registration))
            found += [_data_center_resource(context, region, registration, dc) for dc in registration.data_centers]
        return found

    def export_azure(self, region: ExportRegion) -> ExportPart:
        return export.export_azure(region)

    def build_handlers(self, plumbing: Plumbing) -> PlaneHandlers:
        from reconciler.providers.azure_cassandra import ClusterHandler, DataCenterHandler, clusters_in

        subscription = plumbing.accounts.azure_subscription_id or ""
        return PlaneHandlers({CASSANDRA_CLUSTER.kind: ClusterHandler(plumbing.azure, plumbing.variables),
                              CASSANDRA_DATA_CENTER.kind: DataCenterHandler(plumbing.azure)}, listings={
            "cassandra_clusters": lambda location: clusters_in(plumbing.azure, subscription, location)})


# ---------------------------------------------------------------------------------------------
# resolving


def _data_center(context: ResolveContext, region: str, path: JsonPath, raw: Mapping[str, Any],
                 same_key: bool) -> CassandraDataCenter:
    version = _version(raw.get("keyVersion", LATEST))
    # One key for disk and backup (the procedure's way): one pin covers both unless told otherwise.
    backup_default = raw.get("keyVersion", LATEST) if same_key else LATEST
    return CassandraDataCenter(
        name=raw["name"], location=normal_location(raw.get("location", region)), node_count=raw["nodeCount"],
        sku=raw.get("sku"), delegated_subnet_id=raw["delegatedSubnetId"], key_version=version,
        backup_key_version=_version(raw.get("backupKeyVersion", backup_default)), source=context.source(path),
    )


def _version(written: str) -> str | None:
    return None if written == LATEST else written.lower()


def _password_env(context: ResolveContext, source: Source, raw: Mapping[str, Any]) -> str | None:
    """The environment variable holding the initial admin password; the value never enters a manifest.

    The schema lets these fields through untyped so that no message ever echoes what was written:
    a password pasted in the wrong place must not end up in CI logs.
    """
    if "initialAdminPassword" in raw:
        context.problem(source, "initialAdminPassword", "a password is never written in a manifest: name the "
                        "environment variable that holds it (initialAdminPasswordFrom: {env: NAME})",
                        "E-INLINE-SECRET")
    given = raw.get("initialAdminPasswordFrom")
    if given is None:
        return None
    return environment_reference(context, source, "initialAdminPasswordFrom", given, "the password")


# ---------------------------------------------------------------------------------------------
# expanding


def _cluster(context: ExpandContext, region: Region, registration: CassandraRegistration) -> Resource:
    attributes: dict[str, Any] = {
        "location": registration.location,
        "identityType": "SystemAssigned",
        "delegatedManagementSubnetId": registration.management_subnet_id,
    }
    if registration.cassandra_version is not None:
        attributes["cassandraVersion"] = registration.cassandra_version
    attributes["tags"] = tags(context.key_set)
    if registration.password_env is not None:
        attributes["initialAdminPasswordFrom"] = from_environment(registration.password_env)
    # The cluster deploys into the management subnet: Cosmos DB must hold its network role first.
    grant = _vnet_grant(context, region, registration, registration.management_subnet_id)
    return Resource(
        address=cluster_address(region.name, registration.cluster),
        kind=CASSANDRA_CLUSTER.kind,
        region=region.name,
        identity={"subscriptionId": context.key_set.accounts.azure_subscription_id,
                  "resourceGroup": registration.resource_group, "name": registration.cluster},
        attributes=attributes,
        depends_on=(grant,),
        source=str(registration.source),
    )


def _data_center_resource(context: ExpandContext, region: Region, registration: CassandraRegistration,
                          dc: CassandraDataCenter) -> Resource:
    at_cluster = cluster_address(region.name, registration.cluster)
    disk, disk_at = _key_uri(region, registration.key, dc.key_version)
    backup, backup_at = _key_uri(region, registration.backup_key, dc.backup_key_version)
    attributes: dict[str, Any] = {
        "dataCenterLocation": dc.location,
        "delegatedSubnetId": dc.delegated_subnet_id,
        "nodeCount": dc.node_count,
    }
    if dc.sku is not None:
        attributes["sku"] = dc.sku
    attributes["managedDiskCustomerKeyUri"] = disk
    attributes["backupStorageCustomerKeyUri"] = backup
    # The deployment fails unless the identity can already use both keys.
    grants = [g for ref in dict.fromkeys((registration.key.name, registration.backup_key.name))
              for g in _grants_on_key_vault(context, region, registration, ref)]
    depends = [at_cluster, *dict.fromkeys((disk_at, backup_at)), *grants,
               _vnet_grant(context, region, registration, dc.delegated_subnet_id)]
    return Resource(
        address=data_center_address(region.name, registration.cluster, dc.name),
        kind=CASSANDRA_DATA_CENTER.kind,
        region=region.name,
        identity={"subscriptionId": context.key_set.accounts.azure_subscription_id,
                  "resourceGroup": registration.resource_group, "cluster": registration.cluster, "name": dc.name},
        attributes=attributes,
        depends_on=tuple(dict.fromkeys(depends)),
        parent=at_cluster,
        source=str(dc.source),
    )


def _key_uri(region: Region, reference: KeyReference, version: str | None) -> tuple[Any, str]:
    """The versioned key URI a data center declares, and the key's address.

    Following the latest version, the URI is the key's current `keyUriWithVersion` as read (so a
    new version shows as an update); pinned, it names the version written in the manifest.
    """

    key = region.key(reference.name)
    assert key is not None, "the loader resolved every registration's key"
    at = key_address(region.name, key.vault, key.name)
    if version is None:
        return Unknown(at, "keyUriWithVersion"), at
    return f"https://{key.vault.lower()}.vault.azure.net/keys/{key.name}/{version}", at


def _grants_on_key_vault(context: ExpandContext, region: Region, registration: CassandraRegistration,
                         key_name: str) -> list[str]:
    key = region.key(key_name)
    assert key is not None, "the loader resolved every registration's key"
    principal = Principal("cassandraCluster", registration.cluster)
    return [*context.grants_to(region.name, key.vault, principal),
            *policies_granting(context, region, key.vault, principal)]


def _vnet_grant(context: ExpandContext, region: Region, registration: CassandraRegistration, subnet_id: str) -> str:
    """Network Contributor on the subnet's VNet for the Cosmos DB service principal; its address.

    Emitted by the system, not declared in the manifest: it is the procedure's prerequisite, and
    the manifest's role assignments are for keys (R-ROLE-SCOPE keeps those to a vault or key).
    """
    found = vnet_of(subnet_id)
    assert found is not None, "the rules checked every subnet ID"
    vnet_id, vnet_label = found
    principal = azure_ad.service_principal(context, region.name, COSMOS_DB_APP_ID, str(registration.source))
    subscription = context.key_set.accounts.azure_subscription_id or ""
    resource = context.share(Resource(
        address=f"azure_role_assignment.{region.name}.vnet/{vnet_label}/network-contributor/cosmos-db",
        kind="azure_role_assignment",
        region=region.name,
        identity={"scope": vnet_id, "roleDefinitionId": role_definition_id(subscription, NETWORK_CONTRIBUTOR),
                  "principalId": principal.principal_id},
        # The plan, and the assignment in Azure, say why it exists: no manifest line declares it.
        attributes={"principalType": "ServicePrincipal", "description": VNET_GRANT_DESCRIPTION},
        depends_on=(principal.depends_on,),
        source=str(registration.source),
    ))
    return resource.address


# ---------------------------------------------------------------------------------------------
# rules


def _vaults_of(region: Region, registration: CassandraRegistration) -> Iterator[tuple[str, Any]]:
    for reference in dict.fromkeys((registration.key, registration.backup_key)):
        key = region.key(reference.name)
        vault = region.vault(key.vault) if key else None
        if key is not None and vault is not None:
            yield key.name, vault


def _accounts_declared(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ACCOUNTS: clusters are created only in the subscription the manifest names."""
    if any(True for _ in key_set.registered(CassandraRegistration)) and key_set.accounts.azure_subscription_id is None:
        yield key_set.source.at("", "Cassandra registrations are declared but accounts.azure (tenantId, "
                                "subscriptionId) is missing", "R-ACCOUNTS")


def _one_registration_per_cluster(key_set: KeySet) -> Iterator[Diagnostic]:
    """E-DUPLICATE: a cluster is declared once; two declarations would fight over its data centers."""
    seen: dict[tuple[str, str], CassandraRegistration] = {}
    for _region, registration in key_set.registered(CassandraRegistration):
        key = (registration.resource_group.lower(), registration.cluster.lower())
        first = seen.setdefault(key, registration)
        if first is not registration:
            yield registration.source.at("cluster", f"cluster {registration.cluster!r} is declared twice (first at "
                                         f"line {first.source.line})", "E-DUPLICATE")
        names = [dc.name.lower() for dc in registration.data_centers]
        for dc in registration.data_centers:
            if names.count(dc.name.lower()) > 1:
                yield dc.source.at("name", f"data center {dc.name!r} is declared twice in cluster "
                                   f"{registration.cluster!r}", "E-DUPLICATE")


def _purge_protection(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-CASSANDRA-PURGE: the procedure's warning, "Datacenter deployments will fail without it"."""
    for region, registration in key_set.registered(CassandraRegistration):
        for key_name, vault in _vaults_of(region, registration):
            if not vault.purge_protection:
                yield vault.source.at("purgeProtection", f"vault {vault.name!r} holds key {key_name!r} of Cassandra "
                                      f"cluster {registration.cluster!r} and must have purge protection turned on: "
                                      f"{PURGE_PROTECTION_REASON} (purgeProtection: true)", "R-CASSANDRA-PURGE")


def _vault_reachable(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-CASSANDRA-BYPASS: Cosmos DB's customer-key guide, which covers Cassandra: "Your Azure Key Vault
    instance must be accessible through public network access or allow trusted Microsoft services to
    bypass its firewall" (learn.microsoft.com/azure/cosmos-db/how-to-setup-customer-managed-keys)."""
    for region, registration in key_set.registered(CassandraRegistration):
        for key_name, vault in _vaults_of(region, registration):
            if vault.public_network == "Deny" and not vault.trusted_services_bypass:
                yield vault.source.at("trustedServicesBypass", f"vault {vault.name!r} denies public networks and "
                                      "does not let trusted Microsoft services bypass its firewall: Cassandra "
                                      f"cluster {registration.cluster!r} could not reach key {key_name!r} "
                                      "(trustedServicesBypass: true, or publicNetwork: Allow)", "R-CASSANDRA-BYPASS")


def _key_is_rsa(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-CASSANDRA-KEY-TYPE: managed disks and backup storage are encrypted with RSA keys."""
    for region, registration in key_set.registered(CassandraRegistration):
        for reference in dict.fromkeys((registration.key, registration.backup_key)):
            key = region.key(reference.name)
            if key is not None and not key.is_rsa:
                yield key.source.at("type", f"key {key.name!r} is {key.type}; Cassandra's disk and backup "
                                    "encryption needs an RSA key (RSA, or RSA-HSM in a premium vault)",
                                    "R-CASSANDRA-KEY-TYPE")


def _data_center_in_region(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-SAME-REGION: a data center's keys are in the region it encrypts."""
    for region, registration in key_set.registered(CassandraRegistration):
        for dc in registration.data_centers:
            if dc.location != region.name:
                yield dc.source.at("location", f"data center {dc.name!r} is in {dc.location!r} but its keys are in "
                                   f"region {region.name!r}: declare it under region {dc.location!r} with keys "
                                   "of that region", "R-SAME-REGION")


def _subnets_in_a_vnet(key_set: KeySet) -> Iterator[Diagnostic]:
    """E-SCHEMA: subnet IDs name a VNet, on which Cosmos DB gets Network Contributor."""
    for _region, registration in key_set.registered(CassandraRegistration):
        subnets = [(registration.source, "delegatedManagementSubnetId", registration.management_subnet_id)]
        subnets += [(dc.source, "delegatedSubnetId", dc.delegated_subnet_id) for dc in registration.data_centers]
        for source, field, subnet in subnets:
            if vnet_of(subnet) is None:
                yield source.at(field, "expected a subnet ID: /subscriptions/SUB/resourceGroups/RG/providers/"
                                "Microsoft.Network/virtualNetworks/VNET/subnets/SUBNET", "E-SCHEMA")


def _principal_is_a_declared_cluster(key_set: KeySet) -> Iterator[Diagnostic]:
    """E-REFERENCE: {cassandraCluster: NAME} names a cluster registered in the same region."""
    for region in key_set.regions:
        clusters = {r.cluster for r in region.registrations_of(CassandraRegistration)}
        grants: list[RoleAssignment | AccessPolicy] = [*region.role_assignments, *region.access_policies]
        for grant in grants:
            if grant.principal.kind == "cassandraCluster" and grant.principal.value not in clusters:
                yield grant.source.at("principal", f"no Cassandra cluster {grant.principal.value!r} is registered "
                                      f"in region {region.name!r}", "E-REFERENCE")


def _cluster_can_use_keys(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-CASSANDRA-GRANT: the cluster's identity may get, wrap and unwrap each of its keys."""
    for region, registration in key_set.registered(CassandraRegistration):
        principal = Principal("cassandraCluster", registration.cluster)
        for key_name, vault in _vaults_of(region, registration):
            if can_use_key(region, vault.name, key_name, principal):
                continue
            how = (f"an access policy on vault {vault.name!r} with keys [get, wrapKey, unwrapKey]"
                   if vault.authorization == "accessPolicies" else
                   f"a role assignment of 'Key Vault Crypto Service Encryption User' on vault {vault.name!r}")
            yield registration.source.at("key", f"Cassandra cluster {registration.cluster!r} cannot use key "
                                         f"{key_name!r}: add {how} for principal {{cassandraCluster: "
                                         f"{registration.cluster}}}", "R-CASSANDRA-GRANT")


