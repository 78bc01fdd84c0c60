"""Turn a schema-valid document into the model: defaults applied, references followed.

The core resolves what every system shares (vaults, keys, role assignments); each system
resolves its own registrations. A reference that names nothing is dangling; one that names an
object of another region is a rule violation, because the vendors refuse cross-region keys.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from reconciler.core.errors import Diagnostic
from reconciler.core.roles import role_guid
from reconciler.manifest.access_policies import access_policies, check_access_policy_references
from reconciler.manifest.aws import kms_keys
from reconciler.manifest.context import ResolveContext
from reconciler.manifest.identities import user_assigned_identities
from reconciler.manifest.model import (
    Accounts,
    Key,
    KeySet,
    LockSetting,
    Principal,
    Region,
    Registration,
    Role,
    RoleAssignment,
    Source,
    Vault,
)
from reconciler.manifest.plugins import ManifestPlugin
from reconciler.manifest.rotation import LIMITS_RULE, RotationPolicy, limit_problems, parse_duration
from reconciler.manifest.yamlsource import Document, JsonPath

VAULT_SCOPE = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.KeyVault/vaults/"
    r"(?P<vault>[^/]+)(/keys/(?P<key>[^/]+))?/?$",
    re.IGNORECASE,
)


def resolve_key_set(document: Document, plugins: Sequence[ManifestPlugin]) -> tuple[KeySet | None, list[Diagnostic]]:
    context = ResolveContext(document)
    data = document.data
    accounts = _accounts(data.get("accounts", {}))
    regions = tuple(_region(context, data, index, plugins) for index in range(len(data.get("regions", []))))
    key_set = KeySet(data["metadata"]["name"], accounts, regions, document.file, context.source(("metadata",)),
                     lock=_lock(context, data), accounts_only="regions" not in data)
    _check_region_names(context, key_set)
    _check_references(context, key_set)
    check_access_policy_references(context, key_set)
    for plugin in plugins:
        for region in key_set.regions:
            plugin.check_references(context, key_set, region)
    return key_set, context.problems


def _lock(context: ResolveContext, document: dict[str, Any]) -> LockSetting | None:
    data = document.get("lock") or {}
    where = str(context.source(("lock",))) if data else ""
    if dynamodb := data.get("dynamodb"):
        return LockSetting(dynamodb_table=dynamodb["table"], dynamodb_region=dynamodb["region"], declared_at=where)
    if blob := data.get("azureBlob"):
        return LockSetting(blob_account=blob["account"], blob_container=blob["container"], blob_name=blob.get("blob"),
                           declared_at=where)
    return None


def _accounts(data: dict[str, Any]) -> Accounts:
    """The clouds' accounts, and each plug-in's block as its schema fragment let it through."""
    azure = data.get("azure", {})
    blocks = {name: {field: str(value) for field, value in block.items()}
              for name, block in data.items() if name not in ("azure", "aws")}
    return Accounts(
        azure_tenant_id=azure.get("tenantId"),
        azure_subscription_id=azure.get("subscriptionId"),
        aws_account_id=data.get("aws", {}).get("accountId"),
        blocks=blocks,
    )


def _region(context: ResolveContext, data: dict[str, Any], index: int, plugins: Sequence[ManifestPlugin]) -> Region:
    path: JsonPath = ("regions", index)
    raw = data["regions"][index]
    name = raw["name"]
    assignments = (
        _role_assignment(context, name, (*path, "roleAssignments", i), a)
        for i, a in enumerate(raw.get("roleAssignments", []))
    )
    return Region(
        name=name,
        cloud=raw["cloud"],
        vaults=tuple(_vault(context, name, (*path, "vaults", i), v) for i, v in enumerate(raw.get("vaults", []))),
        keys=tuple(_key(context, name, (*path, "keys", i), k) for i, k in enumerate(raw.get("keys", [])))
        if raw["cloud"] == "azure" else (),
        role_assignments=tuple(a for a in assignments if a is not None),
        registrations=_registrations(context, (name, raw["cloud"]), path, raw.get("registrations", []), plugins),
        source=context.source(path),
        access_policies=access_policies(context, name, path, raw),
        kms_keys=kms_keys(context, name, path, raw) if raw["cloud"] == "aws" else (),
        identities=user_assigned_identities(context, name, path, raw),
    )


def _registrations(context: ResolveContext, where: tuple[str, str], path: JsonPath,
                   raw: list[dict[str, Any]], plugins: Sequence[ManifestPlugin]) -> tuple[Registration, ...]:
    region, cloud = where
    by_key = {plugin.registration_key: plugin for plugin in plugins if plugin.registration_key
              and (not plugin.registration_clouds or cloud in plugin.registration_clouds)}
    found = []
    for index, entry in enumerate(raw):
        for key, body in entry.items():
            resolved = by_key[key].resolve_registration(context, region, (*path, "registrations", index, key), body)
            if resolved is not None:
                found.append(resolved)
    return tuple(found)


def _vault(context: ResolveContext, region: str, path: JsonPath, raw: dict[str, Any]) -> Vault:
    return Vault(
        name=raw["name"],
        region=region,
        resource_group=raw["resourceGroup"],
        sku=raw.get("sku", "standard"),
        purge_protection=raw.get("purgeProtection", True),
        soft_delete_retention_days=raw.get("softDeleteRetentionDays", 90),
        authorization=raw.get("authorization", "rbac"),
        trusted_services_bypass=raw.get("trustedServicesBypass", True),
        public_network=raw.get("publicNetwork", "Allow"),
        source=context.source(path),
        recover=raw.get("recover", False),
    )


def _key(context: ResolveContext, region: str, path: JsonPath, raw: dict[str, Any]) -> Key:
    key_type = raw.get("type", "RSA")
    is_rsa = key_type.startswith("RSA")
    source = context.source(path)
    if is_rsa and "curve" in raw:
        context.problem(source, "curve", f"an {key_type} key has a size, not a curve", "E-SCHEMA")
    if not is_rsa and "size" in raw:
        context.problem(source, "size", f"an {key_type} key has a curve, not a size", "E-SCHEMA")
    return Key(
        name=raw["name"],
        region=region,
        vault=raw["vault"],
        type=key_type,
        size=raw.get("size", 3072) if is_rsa else None,
        curve=None if is_rsa else raw.get("curve", "P-256"),
        source=source,
        rotation=_rotation(context, (*path, "rotation"), raw["rotation"]) if "rotation" in raw else None,
    )


def _rotation(context: ResolveContext, path: JsonPath, raw: dict[str, Any]) -> RotationPolicy | None:
    """The declared policy; None (with a problem at the field's line) when a duration is not one."""
    source = context.source(path)
    for name, value in raw.items():
        try:
            parse_duration(value)
        except ValueError as e:
            context.problem(source, name, f"{e}", "E-SCHEMA")
            return None
    policy = RotationPolicy(rotate_after=raw.get("rotateAfter"), rotate_before_expiry=raw.get("rotateBeforeExpiry"),
                            expires_after=raw.get("expiresAfter"), notify_before=raw.get("notifyBefore"))
    for name, why in limit_problems(policy):  # what Key Vault would refuse, refused before any call
        context.problem(source, name, why, LIMITS_RULE)
    return policy


def _role_assignment(
    context: ResolveContext, region: str, path: JsonPath, raw: dict[str, Any]
) -> RoleAssignment | None:
    source = context.source(path)
    guid = role_guid(raw["role"])
    if guid is None:
        context.problem(source, "role", f"unknown role {raw['role']!r}: give a built-in role name or a role "
                        "definition GUID", "E-REFERENCE")
        return None
    vault: str = raw.get("vault", "")
    key: str | None = None
    if "scope" in raw:
        match = VAULT_SCOPE.match(raw["scope"])
        if match is None:
            context.problem(source, "scope", f"{raw['scope']!r} is wider than a vault: a role for a key must be "
                            "scoped to its vault or key, never a resource group or subscription", "R-ROLE-SCOPE")
            return None
        vault, key = match["vault"], match["key"]
    principal_kind, principal_value = next(iter(raw["principal"].items()))
    return RoleAssignment(region, Role(raw["role"], guid), vault, key, Principal(principal_kind, principal_value),
                          source)


def _check_region_names(context: ResolveContext, key_set: KeySet) -> None:
    seen: set[str] = set()
    for region in key_set.regions:
        if region.name in seen:
            context.problem(region.source, "name", f"region {region.name!r} is declared twice", "E-DUPLICATE")
        seen.add(region.name)
    _check_unique_names(context, [v for r in key_set.regions for v in r.vaults], "vault")
    for region in key_set.regions:
        _check_unique_names(context, region.keys, "key")


def _check_unique_names(context: ResolveContext, items: Any, what: str) -> None:
    # Keys are referenced by name within their region, so two keys of one name are ambiguous even
    # in different vaults; vault names are global in Azure.
    seen: set[str] = set()
    for item in items:
        if item.name in seen:
            context.problem(item.source, "name", f"{what} {item.name!r} is declared twice", "E-DUPLICATE")
        seen.add(item.name)


def _find_vault(key_set: KeySet, name: str) -> Vault | None:
    return next((v for r in key_set.regions for v in r.vaults if v.name == name), None)


def _check_references(context: ResolveContext, key_set: KeySet) -> None:
    for region in key_set.regions:
        for key in region.keys:
            _check_vault_reference(context, key_set, region, key.vault, key.source, "vault", "key")
        for assignment in region.role_assignments:
            field = "scope" if assignment.source.field_lines.get("scope") else "vault"
            vault_found = _check_vault_reference(context, key_set, region, assignment.vault, assignment.source,
                                                 field, "role assignment")
            if vault_found and assignment.key is not None and region.key(assignment.key) is None:
                context.problem(assignment.source, field, f"no key {assignment.key!r} is declared in vault "
                                f"{assignment.vault!r}", "E-REFERENCE")


def _check_vault_reference(
    context: ResolveContext, key_set: KeySet, region: Region, name: str, source: Source, field: str, what: str
) -> bool:
    if region.vault(name) is not None:
        return True
    elsewhere = _find_vault(key_set, name)
    if elsewhere is None:
        context.problem(source, field, f"no vault {name!r} is declared in region {region.name!r}", "E-REFERENCE")
    else:
        context.problem(source, field, f"vault {name!r} is in region {elsewhere.region!r}; a {what} in "
                        f"{region.name!r} must use a vault of the same region", "R-SAME-REGION")
    return False
