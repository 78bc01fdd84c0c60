"""User-assigned managed identities: declared per region, and principals (`{identity: NAME}`).

An identity is created in its region's resource group when absent. As a principal, its object ID
is the identity's `principalId`: read from the live identity, or known after apply for a new one.
Managed identities are service principals to RBAC, so assignments say `ServicePrincipal`.
"""

from __future__ import annotations

from collections.abc import Iterator

from reconciler.core.errors import Diagnostic
from reconciler.core.kinds import KindSpec
from reconciler.manifest.model import (
    AccessPolicy,
    KeySet,
    Principal,
    Region,
    RoleAssignment,
    Source,
    UserAssignedIdentity,
)
from reconciler.plan.model import Resource, Unknown
from reconciler.plugins.addresses import tags
from reconciler.plugins.base import ExpandContext, Plugin, PrincipalTarget

AZURE_USER_ASSIGNED_IDENTITY = KindSpec(
    # identity: subscriptionId, resourceGroup, name
    # attributes: location, tenantId, tags (create-only)
    # outputs: id, principalId, clientId
    kind="azure_user_assigned_identity",
    plane="arm",
    immutable={
        "location": "an identity cannot move to another region",
        "tenantId": "an identity belongs to its subscription's tenant for good",
    },
    create_only=frozenset({"tags"}),
    case_insensitive=frozenset({"location", "tenantId"}),
)


def identity_address(region: str, name: str) -> str:
    return f"azure_user_assigned_identity.{region}.{name}"


def identity_resource_id(subscription: str, resource_group: str, name: str) -> str:
    """The identity's ARM ID: what a consumer (Mongo vCore) names it by; known before it exists."""
    return (f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/"
            f"Microsoft.ManagedIdentity/userAssignedIdentities/{name}")


def principal_target(region: str, name: str) -> PrincipalTarget:
    at = identity_address(region, name)
    return PrincipalTarget(f"identity-{name}", Unknown(at, "principalId"), at)


class Identities(Plugin):
    name = "identities"
    principal_kinds = frozenset({"identity"})
    kinds = (AZURE_USER_ASSIGNED_IDENTITY,)

    def rules(self, key_set: KeySet) -> Iterator[Diagnostic]:
        yield from _accounts_declared(key_set)
        yield from _principal_is_a_declared_identity(key_set)

    def principals(self, context: ExpandContext, region: Region, principal: Principal,
                   source: str) -> list[PrincipalTarget]:
        return [principal_target(region.name, principal.value)]

    def resources(self, context: ExpandContext, region: Region) -> list[Resource]:
        return [_identity(context, region, identity) for identity in region.identities]


def _identity(context: ExpandContext, region: Region, identity: UserAssignedIdentity) -> Resource:
    return Resource(
        address=identity_address(region.name, identity.name),
        kind=AZURE_USER_ASSIGNED_IDENTITY.kind,
        region=region.name,
        identity={"subscriptionId": context.key_set.accounts.azure_subscription_id,
                  "resourceGroup": identity.resource_group, "name": identity.name},
        attributes={"location": region.name, "tenantId": context.key_set.accounts.azure_tenant_id,
                    "tags": tags(context.key_set)},
        source=str(identity.source),
    )


def _accounts_declared(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ACCOUNTS: identities are created only in the tenant and subscription the manifest names."""
    accounts = key_set.accounts
    declared = any(region.identities for region in key_set.regions)
    if declared and (accounts.azure_subscription_id is None or accounts.azure_tenant_id is None):
        yield key_set.source.at("", "identities are declared but accounts.azure (tenantId, subscriptionId) is "
                                "missing", "R-ACCOUNTS")


def _principal_is_a_declared_identity(key_set: KeySet) -> Iterator[Diagnostic]:
    """E-REFERENCE / R-SAME-REGION: {identity: NAME} names an identity declared in the same region."""
    for region in key_set.regions:
        grants: list[RoleAssignment | AccessPolicy] = [*region.role_assignments, *region.access_policies]
        for grant in grants:
            if grant.principal.kind != "identity" or region.identity(grant.principal.value) is not None:
                continue
            yield missing_identity(key_set, region, grant.principal.value, grant.source, "principal")


def missing_identity(key_set: KeySet, region: Region, name: str, source: Source, field: str) -> Diagnostic:
    """Why `name` is not an identity of `region`: dangling, or declared in another region."""
    elsewhere = next((r for r in key_set.regions if r.identity(name) is not None), None)
    if elsewhere is None:
        return source.at(field, f"no identity {name!r} is declared in region {region.name!r} (identities)",
                         "E-REFERENCE")
    return source.at(field, f"identity {name!r} is declared in region {elsewhere.name!r}; an identity is used in "
                     f"the region it is declared in ({region.name!r})", "R-SAME-REGION")
