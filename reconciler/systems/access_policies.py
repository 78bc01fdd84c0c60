"""Vault access policies: key permissions for any principal, on vaults that do not use Azure RBAC.

A core piece shared by every system whose vendor procedure grants through an access policy
(Cassandra Managed Instance; Mongo vCore may too): the section is `accessPolicies` in an Azure
region, the principal is resolved by the system that owns its kind, exactly as for role
assignments. Only the declared permissions are compared: permissions someone else gave the same
principal are left alone, and never removed.
"""

from __future__ import annotations

from collections.abc import Iterator

from reconciler.core.errors import Diagnostic
from reconciler.core.kinds import KindSpec
from reconciler.manifest.model import AccessPolicy, KeySet, Principal, Region
from reconciler.plan.model import Resource
from reconciler.plugins.addresses import vault_address
from reconciler.plugins.base import ExpandContext, Plugin

AZURE_ACCESS_POLICY = KindSpec(
    # identity: subscriptionId, resourceGroup, vault, tenantId, objectId (may be Unknown until the
    #   principal exists)
    # attributes: keyPermissions {permission: true} -- a mapping, so that `diff.matches` compares
    #   it as a set holding at least the declared permissions
    # outputs: none
    kind="azure_access_policy",
    plane="arm",
)


def access_policy_address(region: str, vault: str, label: str) -> str:
    return f"azure_access_policy.{region}.{vault}/{label}"


def key_permissions(policy: AccessPolicy) -> dict[str, bool]:
    return {permission: True for permission in policy.key_permissions}


def policy_resources(context: ExpandContext, region: Region, policy: AccessPolicy) -> list[Resource]:
    """The access-policy entries `policy` expands to: one per principal its kind resolves to."""
    vault = region.vault(policy.vault)
    assert vault is not None, "the loader resolved every access policy's vault"
    at_vault = vault_address(region.name, vault.name)
    system = context.principal_plugins[policy.principal.kind]
    return [
        Resource(
            address=access_policy_address(region.name, vault.name, target.label),
            kind=AZURE_ACCESS_POLICY.kind,
            region=region.name,
            identity={"subscriptionId": context.key_set.accounts.azure_subscription_id,
                      "resourceGroup": vault.resource_group, "vault": vault.name,
                      "tenantId": context.key_set.accounts.azure_tenant_id, "objectId": target.principal_id},
            attributes={"keyPermissions": key_permissions(policy)},
            depends_on=(at_vault, target.depends_on) if target.depends_on else (at_vault,),
            parent=at_vault,
            source=str(policy.source),
        )
        for target in system.principals(context, region, policy.principal, str(policy.source))
    ]


def policies_granting(context: ExpandContext, region: Region, vault: str, principal: Principal) -> list[str]:
    """Addresses of the access policies that give `principal` permissions on `vault` (a consumer waits for them)."""
    return [resource.address for policy in region.access_policies
            if policy.vault == vault and policy.principal == principal
            for resource in policy_resources(context, region, policy)]


class AccessPolicies(Plugin):
    name = "access-policies"
    kinds = (AZURE_ACCESS_POLICY,)

    def rules(self, key_set: KeySet) -> Iterator[Diagnostic]:
        yield from _policy_on_rbac_vault(key_set)
        yield from _role_on_access_policy_vault(key_set)

    def resources(self, context: ExpandContext, region: Region) -> list[Resource]:
        return [resource for policy in region.access_policies for resource in policy_resources(context, region, policy)]


def _policy_on_rbac_vault(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ACCESS-POLICY-RBAC: a vault using Azure RBAC ignores its access policies."""
    for region in key_set.regions:
        for policy in region.access_policies:
            vault = region.vault(policy.vault)
            if vault is not None and vault.authorization == "rbac":
                yield policy.source.at("vault", f"vault {vault.name!r} uses Azure RBAC (authorization: rbac), which "
                                       "ignores access policies: this one would have no effect. Grant a role "
                                       "instead (roleAssignments), or set authorization: accessPolicies",
                                       "R-ACCESS-POLICY-RBAC")


def _role_on_access_policy_vault(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ROLE-ACCESS-POLICY-VAULT: a vault using access policies ignores Key Vault data-plane roles."""
    for region in key_set.regions:
        for assignment in region.role_assignments:
            vault = region.vault(assignment.vault)
            if vault is not None and vault.authorization == "accessPolicies":
                field = "scope" if assignment.source.field_lines.get("scope") else "vault"
                yield assignment.source.at(field, f"vault {vault.name!r} uses access policies (authorization: "
                                           "accessPolicies), which ignore role assignments on its keys: this one "
                                           "would have no effect. Declare an access policy instead "
                                           "(accessPolicies), or set authorization: rbac",
                                           "R-ROLE-ACCESS-POLICY-VAULT")

