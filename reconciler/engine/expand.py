"""From a resolved key set to the objects it implies, in the shape the planner diffs.

Expansion happens in two steps because some systems decide how many principals a region needs
(Astra lists one or two provider IDs): first the lookups, then, once their answers are known,
everything else. The core expands vaults, keys and role assignments; systems add the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.roles import role_definition_id
from reconciler.manifest.model import Key, KeySet, Region, RoleAssignment, Vault
from reconciler.plan.model import Declared, Resource
from reconciler.plugins import ExpandContext, Grant, PluginTable
from reconciler.plugins.addresses import key_address, tags, vault_address, vault_scope


def lookups(key_set: KeySet, plugins: PluginTable) -> list[Resource]:
    """The lookups the plug-ins need answered before they can say what they declare."""
    return [lookup for plugin in plugins for lookup in plugin.lookups(key_set)]


def resources(key_set: KeySet, answers: Mapping[str, Mapping[str, Any]], plugins: PluginTable) -> list[Resource]:
    """Every object the key set declares; `answers` maps a lookup address to what it read."""
    context = ExpandContext(key_set, answers, plugins.by_principal_kind)
    found: list[Resource] = lookups(key_set, plugins)
    for region in key_set.regions:
        found += [_vault(key_set, v) for v in region.vaults]
        found += [_key(key_set, region, k) for k in region.keys]
        for assignment in region.role_assignments:
            made = _role_assignments(context, region, assignment)
            context.grants.append(Grant(assignment, [m.address for m in made]))
            found += made
    # Systems expand after every grant is known: registrations wait for them.
    for region in key_set.regions:
        for plugin in plugins:
            found += plugin.resources(context, region)
    return found + list(context.shared.values())


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
    if vault.recover:
        attributes["recover"] = True
    return Resource(
        address=vault_address(vault.region, vault.name),
        kind="azure_vault",
        region=vault.region,
        identity={"subscriptionId": key_set.accounts.azure_subscription_id, "resourceGroup": vault.resource_group,
                  "name": vault.name},
        attributes=attributes,
        source=str(vault.source),
        declared={
            "sku": Declared("sku", vault.sku, vault.source.location("sku")),
            "enablePurgeProtection": Declared("purgeProtection", vault.purge_protection,
                                              vault.source.location("purgeProtection")),
            "softDeleteRetentionInDays": Declared("softDeleteRetentionDays", vault.soft_delete_retention_days,
                                                  vault.source.location("softDeleteRetentionDays")),
        },
    )


def _key(key_set: KeySet, region: Region, key: Key) -> Resource:
    vault = region.vault(key.vault)
    assert vault is not None, "the loader resolved every key's vault"
    attributes: dict[str, Any] = {"kty": key.type}
    if key.size is not None:
        attributes["keySize"] = key.size
    if key.curve is not None:
        attributes["curveName"] = key.curve
    if key.rotation is not None:
        # Only a declared policy is read (one data-plane call) and compared.
        attributes["rotationPolicy"] = key.rotation.canonical()
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
        declared={"kty": Declared("type", key.type, key.source.location("type")),
                  "keySize": Declared("size", key.size, key.source.location("size")),
                  "curveName": Declared("curve", key.curve, key.source.location("curve"))},
    )


def _role_assignments(context: ExpandContext, region: Region, assignment: RoleAssignment) -> list[Resource]:
    vault = region.vault(assignment.vault)
    assert vault is not None, "the loader resolved every assignment's vault"
    subscription = context.key_set.accounts.azure_subscription_id or ""
    scope = vault_scope(subscription, vault.resource_group, vault.name)
    target = vault.name
    depends = [vault_address(region.name, vault.name)]
    if assignment.key is not None:
        scope += f"/keys/{assignment.key}"
        target += f"/{assignment.key}"
        depends.append(key_address(region.name, vault.name, assignment.key))
    role_slug = assignment.role.name.lower().replace(" ", "-")
    plugin = context.principal_plugins[assignment.principal.kind]
    return [
        Resource(
            address=f"azure_role_assignment.{region.name}.{target}/{role_slug}/{principal.label}",
            kind="azure_role_assignment",
            region=region.name,
            identity={"scope": scope, "roleDefinitionId": role_definition_id(subscription, assignment.role.guid),
                      "principalId": principal.principal_id},
            attributes={"principalType": principal.principal_type},
            depends_on=tuple([*depends, principal.depends_on] if principal.depends_on else depends),
            parent=depends[-1],
            source=str(assignment.source),
        )
        for principal in plugin.principals(context, region, assignment.principal, str(assignment.source))
    ]
