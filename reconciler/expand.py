"""From a resolved key set to the objects it implies, in the shape the planner diffs.

Expansion happens in two steps because Astra decides how many principals a region needs: first the
provider-ID lookups, then, once their answer is known, one service principal and one role
assignment per provider ID.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.manifest.model import AstraRegistration, Key, KeySet, Region, RoleAssignment, Vault
from reconciler.plan import Resource, Unknown
from reconciler.roles import role_definition_id

MANAGED_BY = "cmkctl"


def tags(key_set: KeySet) -> dict[str, str]:
    return {"managed-by": MANAGED_BY, "cmkctl-set": key_set.name}


def vault_address(region: str, vault: str) -> str:
    return f"azure_vault.{region}.{vault}"


def key_address(region: str, vault: str, key: str) -> str:
    return f"azure_key.{region}.{vault}/{key}"


def lookup_address(region: str, product: str) -> str:
    return f"astra_provider_accounts.{region}.{product}"


def service_principal_address(region: str, app_id: str) -> str:
    return f"azuread_service_principal.{region}.{app_id}"


def lookups(key_set: KeySet) -> list[Resource]:
    """The provider-ID lookups every Astra principal and registration in the key set needs."""
    wanted: dict[tuple[str, str], Resource] = {}
    for region in key_set.regions:
        products = {a.principal.value for a in region.role_assignments if a.principal.kind == "astra"}
        products |= {r.product for r in region.astra_registrations}
        for product in sorted(products):
            wanted[(region.name, product)] = Resource(
                address=lookup_address(region.name, product),
                kind="astra_provider_accounts",
                region=region.name,
                identity={"product": product, "cloud": region.cloud, "region": region.name},
                source=str(region.source),
            )
    return list(wanted.values())


def resources(key_set: KeySet, provider_ids: Mapping[str, Sequence[str]]) -> list[Resource]:
    """Every object the key set declares; `provider_ids` maps a lookup address to its answer."""
    found: list[Resource] = [*lookups(key_set)]
    principals: dict[str, Resource] = {}
    for region in key_set.regions:
        found += [_vault(key_set, v) for v in region.vaults]
        found += [_key(key_set, region, k) for k in region.keys]
        # Registration is irreversible, so it waits until Astra's principals can use the key.
        astra_grants: dict[tuple[str, str], list[str]] = {}
        for assignment in region.role_assignments:
            made = _role_assignments(key_set, region, assignment, provider_ids, principals)
            found += made
            if assignment.principal.kind == "astra":
                slot = astra_grants.setdefault((assignment.vault, assignment.principal.value), [])
                slot += [m.address for m in made]
        for registration in region.astra_registrations:
            key = region.key(registration.key)
            grants = astra_grants.get((key.vault if key else "", registration.product), [])
            found.append(_astra_registration(key_set, region, registration, grants))
    return found + list(principals.values())


def _vault(key_set: KeySet, vault: Vault) -> Resource:
    attributes: dict[str, Any] = {
        "location": vault.region,
        "tenantId": key_set.accounts.azure_tenant_id,
        "sku": vault.sku,
        "enableRbacAuthorization": vault.authorization == "rbac",
        "enablePurgeProtection": vault.purge_protection,
        "softDeleteRetentionInDays": vault.soft_delete_retention_days,
        "networkAcls": {
            "bypass": "AzureServices" if vault.trusted_services_bypass else "None",
            "defaultAction": vault.public_network,
        },
        "tags": tags(key_set),
    }
    return Resource(
        address=vault_address(vault.region, vault.name),
        kind="azure_vault",
        region=vault.region,
        identity={"subscriptionId": key_set.accounts.azure_subscription_id, "resourceGroup": vault.resource_group,
                  "name": vault.name},
        attributes=attributes,
        source=str(vault.source),
    )


def _key(key_set: KeySet, region: Region, key: Key) -> Resource:
    vault = region.vault(key.vault)
    assert vault is not None, "the loader resolved every key's vault"
    attributes: dict[str, Any] = {"kty": key.type}
    if key.size is not None:
        attributes["keySize"] = key.size
    if key.curve is not None:
        attributes["curveName"] = key.curve
    return Resource(
        address=key_address(region.name, vault.name, key.name),
        kind="azure_key",
        region=region.name,
        identity={"subscriptionId": key_set.accounts.azure_subscription_id, "resourceGroup": vault.resource_group,
                  "vault": vault.name, "name": key.name},
        attributes={**attributes, "tags": tags(key_set)},
        depends_on=(vault_address(region.name, vault.name),),
        parent=vault_address(region.name, vault.name),
        source=str(key.source),
    )


def _principal_ids(
    key_set: KeySet,
    region: Region,
    assignment: RoleAssignment,
    provider_ids: Mapping[str, Sequence[str]],
    principals: dict[str, Resource],
) -> list[tuple[str, Any, str]]:
    """(label, principal object ID or its Unknown, the address it depends on) for an assignment."""
    kind, value = assignment.principal.kind, assignment.principal.value
    if kind == "objectId":
        return [(f"object-{value}", value, "")]
    if kind == "astra":
        lookup = lookup_address(region.name, value)
        app_ids = [(f"astra-{value}-{app_id}", app_id, lookup) for app_id in provider_ids.get(lookup, ())]
    else:
        app_ids = [(f"sp-{value}", value, "")]
    result = []
    for label, app_id, lookup_dep in app_ids:
        principal = principals.setdefault(app_id, Resource(
            address=service_principal_address(region.name, app_id),
            kind="azuread_service_principal",
            region=region.name,
            identity={"appId": app_id},
            depends_on=(lookup_dep,) if lookup_dep else (),
            source=str(assignment.source),
        ))
        result.append((label, Unknown(principal.address, "objectId"), principal.address))
    return result


def _role_assignments(
    key_set: KeySet,
    region: Region,
    assignment: RoleAssignment,
    provider_ids: Mapping[str, Sequence[str]],
    principals: dict[str, Resource],
) -> list[Resource]:
    vault = region.vault(assignment.vault)
    assert vault is not None, "the loader resolved every assignment's vault"
    subscription = key_set.accounts.azure_subscription_id or ""
    scope = (f"/subscriptions/{subscription}/resourceGroups/{vault.resource_group}"
             f"/providers/Microsoft.KeyVault/vaults/{vault.name}")
    target = vault.name
    depends = [vault_address(region.name, vault.name)]
    if assignment.key is not None:
        scope += f"/keys/{assignment.key}"
        target += f"/{assignment.key}"
        depends.append(key_address(region.name, vault.name, assignment.key))
    role_slug = assignment.role.name.lower().replace(" ", "-")
    made = []
    for label, principal_id, principal_address in _principal_ids(key_set, region, assignment, provider_ids, principals):
        made.append(Resource(
            address=f"azure_role_assignment.{region.name}.{target}/{role_slug}/{label}",
            kind="azure_role_assignment",
            region=region.name,
            identity={"scope": scope, "roleDefinitionId": role_definition_id(subscription, assignment.role.guid),
                      "principalId": principal_id},
            attributes={"principalType": "ServicePrincipal"},
            depends_on=tuple([*depends, principal_address] if principal_address else depends),
            parent=depends[-1],
            source=str(assignment.source),
        ))
    return made


def _astra_registration(
    key_set: KeySet, region: Region, registration: AstraRegistration, grants: Sequence[str]
) -> Resource:
    key = region.key(registration.key)
    assert key is not None, "the loader resolved every registration's key"
    key_at = key_address(region.name, key.vault, key.name)
    return Resource(
        address=f"astra_registration.{region.name}.{registration.product}",
        kind="astra_registration",
        region=region.name,
        identity={"organizationId": key_set.accounts.astra_organization_id, "product": registration.product,
                  "cloud": region.cloud, "region": region.name},
        attributes={"keyId": Unknown(key_at, "keyUri")},
        depends_on=(key_at, lookup_address(region.name, registration.product), *grants),
        source=str(registration.source),
    )
