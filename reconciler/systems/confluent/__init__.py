"""Confluent Cloud Dedicated Kafka on Azure with a self-managed key (BYOK).

The chain the vendor's procedure describes: the Azure key is registered with Confluent (a BYOK
key), Confluent answers with the application that will use it, a service principal is made for
that application in the customer's tenant, it gets "Key Vault Crypto Service Encryption User" and
"Key Vault Reader" on the vault, and only then is the Dedicated cluster created with the key.

A BYOK key is immutable. Its address names the Azure key it registers and its identity is that
key's URI, vault and tenant, so declaring a different Azure key declares a new BYOK key (a create,
never an update); the old one simply leaves the manifest, and nothing deletes it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from reconciler.core.errors import Diagnostic
from reconciler.core.kinds import KindSpec
from reconciler.core.roles import CRYPTO_SERVICE_ENCRYPTION_USER, role_guid
from reconciler.manifest.context import ResolveContext
from reconciler.manifest.keyref import KeyReference, find_key, parse_key_reference
from reconciler.manifest.model import Key, KeySet, Principal, Region, Registration, Source, Vault
from reconciler.manifest.yamlsource import JsonPath
from reconciler.plan.model import Declared, Notice, Plan, Resource, Unknown
from reconciler.plugins.addresses import key_address, vault_scope
from reconciler.plugins.base import (
    ExpandContext,
    ExportPart,
    ExportRegion,
    Plugin,
    PrincipalTarget,
    unmanaged_notice,
    vault_of_key,
)
from reconciler.providers.plumbing import PlaneHandlers, Plumbing
from reconciler.systems.confluent import export, handlers
from reconciler.systems.confluent.health import CONFLUENT_HEALTH
from reconciler.systems.confluent.schema import FRAGMENT

KEY_VAULT_READER = "Key Vault Reader"
# The roles Confluent's CLI snippet assigns, and whether a key-scoped assignment also serves.
REQUIRED_ROLES: tuple[tuple[str, bool], ...] = ((CRYPTO_SERVICE_ENCRYPTION_USER, True), (KEY_VAULT_READER, False))

CONFLUENT_BYOK_KEY = KindSpec(
    # identity: provider (AZURE), keyId (versionless key URI), keyVaultId (vault resource ID), tenantId
    # attributes: none (a BYOK key is immutable)
    # outputs: id (cck-...), applicationId, state, validationPhase, validationMessage
    kind="confluent_byok_key",
    plane="confluent",
    irreversible_create="a BYOK key is immutable and cmkctl never deletes one; another Azure key is registered "
                        "as a new BYOK key",
)

FIXED_AT_CREATION = ("a Dedicated cluster's encryption mode (Automatic or Self-managed) and its key are fixed at "
                     "creation; create a new cluster to change them")
CONFLUENT_CLUSTER = KindSpec(
    # identity: environmentId, displayName
    # attributes: cloud, region, availability, kind (Dedicated), cku, byokKeyId, network (optional)
    # outputs: id (lkc-...), phase
    kind="confluent_cluster",
    plane="confluent",
    immutable={
        "byokKeyId": FIXED_AT_CREATION,
        "cloud": "a Kafka cluster cannot move to another cloud",
        "region": "a Kafka cluster cannot move to another region",
        "availability": "the availability of a Dedicated cluster is fixed at creation",
        "kind": "only a Dedicated cluster can use a self-managed key, and a cluster's type is fixed at creation",
        "network": "the network of a Dedicated cluster is fixed at creation",
    },
    irreversible_create="the cluster's encryption mode (Self-managed, with this key) is fixed at creation",
    rules={"byokKeyId": "R-CONFLUENT-ENCRYPTION-MODE"},
    live_null={"byokKeyId": "Automatic"},
)


@dataclass(frozen=True)
class ConfluentCluster:
    name: str
    availability: str
    cku: int
    network: str | None
    source: Source


@dataclass(frozen=True)
class ConfluentRegistration(Registration):
    key: KeyReference
    cluster: ConfluentCluster | None


def byok_address(region: str, vault: str, key: str) -> str:
    return f"confluent_byok_key.{region}.{vault}/{key}"


def principal_address(region: str, key: str) -> str:
    return f"azuread_service_principal.{region}.confluent-{key}"


def cluster_address(region: str, name: str) -> str:
    return f"confluent_cluster.{region}.{name}"


def _registered(key_set: KeySet) -> Iterator[tuple[Region, ConfluentRegistration, Key, Vault]]:
    """Each registration with its key and vault; those whose references failed are left out."""
    for region in key_set.regions:
        for registration in region.registrations_of(ConfluentRegistration):
            key = region.key(registration.key.name)
            vault = region.vault(key.vault) if key else None
            if key is not None and vault is not None:
                yield region, registration, key, vault


class Confluent(Plugin):
    schema_fragment = FRAGMENT
    name = "confluent"
    registration_key = "confluent"
    registration_clouds = frozenset({"azure"})
    principal_kinds = frozenset({"confluent"})
    kinds = (CONFLUENT_BYOK_KEY, CONFLUENT_CLUSTER)
    health = CONFLUENT_HEALTH
    endpoint_variables = MappingProxyType({"confluent": "CMKCTL_CONFLUENT_ENDPOINT"})
    plane_names = MappingProxyType({"confluent": "Confluent Cloud"})
    # A Confluent Cloud API key and its secret (HTTP Basic auth).
    credential_variables = MappingProxyType({"confluent_api_key": "CONFLUENT_CLOUD_API_KEY",
                                             "confluent_api_secret": "CONFLUENT_CLOUD_API_SECRET"})

    def resolve_registration(self, context: ResolveContext, region: str, path: JsonPath,
                             raw: Mapping[str, Any]) -> Registration | None:
        source = context.source(path)
        key = parse_key_reference(context, source, "key", raw["key"], "Confluent")
        cluster = raw.get("cluster")
        return ConfluentRegistration(region, source, key, _cluster(context, path, cluster) if cluster else None)

    def check_references(self, context: ResolveContext, key_set: KeySet, region: Region) -> None:
        registered: dict[str, ConfluentRegistration] = {}
        for registration in region.registrations_of(ConfluentRegistration):
            find_key(context, key_set, region, registration.key, registration.source, "key", "Confluent")
            first = registered.setdefault(registration.key.name, registration)
            if first is not registration:
                context.problem(registration.source, "key", f"key {registration.key.name!r} is registered with "
                                f"Confluent twice (first at line {first.source.line})", "E-DUPLICATE")
        for assignment in region.role_assignments:
            if assignment.principal.kind == "confluent" and assignment.principal.value not in registered:
                _unregistered_principal(context, key_set, region, assignment.principal.value, assignment.source)

    def unmanaged(self, key_set: KeySet, plan: Plan, lists: Any, ours: Mapping[str, Any]) -> list[Notice]:
        """BYOK keys of keys in the key set's vaults that the key set no longer declares (left in place)."""
        if not key_set.accounts.of("confluent", "environmentId"):
            return []
        byok = {str(s.identity.get("keyId", "")).lower() for s in plan.steps if s.kind == CONFLUENT_BYOK_KEY.kind}
        found = []
        for entry in lists.confluent_keys():
            vault = vault_of_key(entry["keyId"], ours)
            if vault is not None and entry["keyId"].lower() not in byok:
                found.append(unmanaged_notice(vault["location"], f"Confluent BYOK key for {entry['keyId']} is no "
                                              "longer declared; cmkctl leaves it in place"))
        return found

    def rules(self, key_set: KeySet) -> Iterator[Diagnostic]:
        for check in (_environment_declared, _key_is_rsa, _vault_purge_protected, _vault_uses_rbac, _vault_bypass,
                      _principal_is_granted, _cluster_names_unique):
            yield from check(key_set)

    def principals(self, context: ExpandContext, region: Region, principal: Principal,
                   source: str) -> list[PrincipalTarget]:
        key = region.key(principal.value)
        if key is None:
            return []
        address = principal_address(region.name, key.name)
        byok_at = byok_address(region.name, key.vault, key.name)
        # The application ID exists only once Confluent has registered the key: an Unknown until then.
        context.share(Resource(
            address=address,
            kind="azuread_service_principal",
            region=region.name,
            identity={"appId": Unknown(byok_at, "applicationId")},
            depends_on=(byok_at,),
            source=source,
        ))
        return [PrincipalTarget(f"confluent-{key.name}", Unknown(address, "objectId"), address)]

    def resources(self, context: ExpandContext, region: Region) -> list[Resource]:
        found: list[Resource] = []
        for registration in region.registrations_of(ConfluentRegistration):
            key = region.key(registration.key.name)
            assert key is not None, "the loader resolved every registration's key"
            found.append(_byok_key(context, region, registration, key))
            if registration.cluster is not None:
                found.append(_cluster_resource(context, region, registration, key))
        return found

    def export_azure(self, region: ExportRegion) -> ExportPart:
        return export.export_azure(region)

    def export_accounts(self, key_set: KeySet) -> Mapping[str, Any]:
        environment = key_set.accounts.of("confluent", "environmentId")
        return {"confluent": {"environmentId": environment}} if environment else {}

    def build_handlers(self, plumbing: Plumbing) -> PlaneHandlers:
        return handlers.build(plumbing)


def _cluster(context: ResolveContext, path: JsonPath, raw: Mapping[str, Any]) -> ConfluentCluster:
    return ConfluentCluster(
        name=raw["name"],
        availability=raw.get("availability", "MULTI_ZONE"),
        cku=raw.get("cku", 2),
        network=raw.get("network"),
        source=context.source((*path, "cluster")),
    )


def _unregistered_principal(context: ResolveContext, key_set: KeySet, region: Region, key: str,
                            source: Source) -> None:
    if region.key(key) is None:
        # find_key says whether the key is missing or in another region.
        find_key(context, key_set, region, KeyReference(key), source, "principal", "Confluent")
        return
    context.problem(source, "principal", f"principal {{confluent: {key}}} names a key not registered with "
                    f"Confluent in region {region.name!r}: add `- confluent: {{key: {key}}}` to its registrations",
                    "E-REFERENCE")


def _byok_key(context: ExpandContext, region: Region, registration: ConfluentRegistration, key: Key) -> Resource:
    vault = region.vault(key.vault)
    assert vault is not None, "the loader resolved every key's vault"
    accounts = context.key_set.accounts
    key_at = key_address(region.name, vault.name, key.name)
    return Resource(
        address=byok_address(region.name, vault.name, key.name),
        kind="confluent_byok_key",
        region=region.name,
        identity={
            "provider": "AZURE",
            # The versionless URI, so that Confluent follows the key's rotation.
            "keyId": Unknown(key_at, "keyUri"),
            "keyVaultId": vault_scope(accounts.azure_subscription_id or "", vault.resource_group, vault.name),
            "tenantId": accounts.azure_tenant_id,
        },
        depends_on=(key_at,),
        source=str(registration.source),
    )


def _cluster_resource(context: ExpandContext, region: Region, registration: ConfluentRegistration,
                      key: Key) -> Resource:
    cluster = registration.cluster
    assert cluster is not None, "only a registration naming a cluster declares one"
    byok_at = byok_address(region.name, key.vault, key.name)
    # The cluster is created with the key only once Confluent's application can use it.
    grants = context.grants_to(region.name, key.vault, Principal("confluent", key.name))
    attributes: dict[str, Any] = {
        "cloud": "AZURE",
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
        kind="confluent_cluster",
        region=region.name,
        identity={"environmentId": context.key_set.accounts.of("confluent", "environmentId"),
                  "displayName": cluster.name},
        attributes=attributes,
        depends_on=(byok_at, *grants),
        source=str(cluster.source),
        declared={"byokKeyId": Declared("key", key.name, registration.source.location("key"))},
    )


# ---- Rules -----------------------------------------------------------------------------------


def _environment_declared(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ACCOUNTS: clusters are created only in the environment the manifest names."""
    if key_set.accounts.of("confluent", "environmentId") is not None:
        return
    for _, registration, _, _ in _registered(key_set):
        if registration.cluster is not None:
            yield registration.cluster.source.at("name", "a Confluent cluster is declared but "
                                                 "accounts.confluent.environmentId is missing", "R-ACCOUNTS")


def _key_is_rsa(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-CONFLUENT-KEY-TYPE: Confluent takes an RSA (software) or RSA-HSM key, never EC."""
    for _, _, key, _ in _registered(key_set):
        if not key.is_rsa:
            yield key.source.at("type", f"key {key.name!r} is {key.type}; Confluent needs an RSA or RSA-HSM key "
                                "(EC keys cannot wrap Kafka's data keys)", "R-CONFLUENT-KEY-TYPE")


def _vault_purge_protected(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-CONFLUENT-PURGE: Confluent requires purge protection on the key's vault."""
    for _, _, _, vault in _registered(key_set):
        if not vault.purge_protection:
            yield vault.source.at("purgeProtection", f"vault {vault.name!r} holds a key registered with Confluent, "
                                  "which requires purge protection (purgeProtection: true)", "R-CONFLUENT-PURGE")


def _vault_uses_rbac(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-CONFLUENT-RBAC: Confluent's application is granted roles, so the vault must use Azure RBAC."""
    for _, _, _, vault in _registered(key_set):
        if vault.authorization != "rbac":
            yield vault.source.at("authorization", f"vault {vault.name!r} holds a key registered with Confluent, "
                                  "which requires Azure RBAC authorization (authorization: rbac)", "R-CONFLUENT-RBAC")


def _vault_bypass(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-CONFLUENT-BYPASS: behind a firewall, trusted Microsoft services must be let through."""
    for _, _, _, vault in _registered(key_set):
        if vault.public_network == "Deny" and not vault.trusted_services_bypass:
            yield vault.source.at("trustedServicesBypass", f"vault {vault.name!r} restricts its network "
                                  "(publicNetwork: Deny) and holds a key registered with Confluent: trusted Microsoft "
                                  "services must bypass its firewall (trustedServicesBypass: true)",
                                  "R-CONFLUENT-BYPASS")


def _principal_is_granted(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-CONFLUENT-GRANT: Confluent's application needs both roles on the registered key's vault."""
    for region, registration, key, _ in _registered(key_set):
        principal = Principal("confluent", key.name)
        for role, key_scope_serves in REQUIRED_ROLES:
            wanted = role_guid(role)
            granted = any(
                a.role.guid == wanted and a.vault == key.vault and a.principal == principal
                and (a.key is None or (key_scope_serves and a.key == key.name))
                for a in region.role_assignments
            )
            if not granted:
                yield registration.source.at(
                    "key", f"Confluent's application cannot use key {key.name!r}: add a role assignment of {role!r} "
                    f"on vault {key.vault!r} for principal {{confluent: {key.name}}}", "R-CONFLUENT-GRANT")


def _cluster_names_unique(key_set: KeySet) -> Iterator[Diagnostic]:
    """E-DUPLICATE: clusters are found by name in the environment, so a name declares one cluster."""
    seen: dict[str, ConfluentCluster] = {}
    for _, registration, _, _ in _registered(key_set):
        cluster = registration.cluster
        if cluster is None:
            continue
        first = seen.setdefault(cluster.name, cluster)
        if first is not cluster:
            yield cluster.source.at("name", f"cluster {cluster.name!r} is declared twice (first at {first.source})",
                                    "E-DUPLICATE")
