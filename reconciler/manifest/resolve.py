"""Turn a schema-valid document into the model: defaults applied, references followed.

A reference that names nothing is a dangling reference; one that names an object of another
region is a rule violation, reported as such, because the vendors refuse cross-region keys.
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.errors import Diagnostic
from reconciler.manifest.model import (
    Accounts,
    AstraRegistration,
    Key,
    KeySet,
    Principal,
    Region,
    Role,
    RoleAssignment,
    Source,
    Vault,
)
from reconciler.manifest.yamlsource import Document, JsonPath, dotted
from reconciler.roles import role_guid

KEY_IDENTIFIER = re.compile(
    r"^https://(?P<vault>[A-Za-z0-9-]+)\.vault\.azure\.net(:443)?/keys/(?P<key>[A-Za-z0-9-]+)"
    r"(/(?P<version>[^/]*))?/?$"
)
VAULT_SCOPE = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.KeyVault/vaults/"
    r"(?P<vault>[^/]+)(/keys/(?P<key>[^/]+))?/?$",
    re.IGNORECASE,
)


class _Resolver:
    def __init__(self, document: Document) -> None:
        self.document = document
        self.problems: list[Diagnostic] = []

    def source(self, path: JsonPath) -> Source:
        data: Any = self.document.data
        for part in path:
            data = data[part]
        field_lines = {}
        if isinstance(data, dict):
            field_lines = {name: self.document.lines.get((*path, name), 0) for name in data}
        return Source(self.document.file, self.document.line_of(path), dotted(path), field_lines)

    def problem(self, source: Source, field: str, summary: str, rule: str) -> None:
        self.problems.append(source.at(field, summary, rule))


def resolve_key_set(document: Document) -> tuple[KeySet | None, list[Diagnostic]]:
    resolver = _Resolver(document)
    data = document.data
    accounts = _accounts(data.get("accounts", {}))
    regions = tuple(_region(resolver, data, index) for index in range(len(data["regions"])))
    key_set = KeySet(data["metadata"]["name"], accounts, regions, document.file, resolver.source(("metadata",)))
    _check_region_names(resolver, key_set)
    _check_references(resolver, key_set)
    return key_set, resolver.problems


def _accounts(data: dict[str, Any]) -> Accounts:
    azure = data.get("azure", {})
    astra = data.get("astra", {})
    return Accounts(
        azure_tenant_id=azure.get("tenantId"),
        azure_subscription_id=azure.get("subscriptionId"),
        astra_organization_id=astra.get("organizationId"),
    )


def _region(resolver: _Resolver, data: dict[str, Any], index: int) -> Region:
    path: JsonPath = ("regions", index)
    raw = data["regions"][index]
    name = raw["name"]
    return Region(
        name=name,
        cloud=raw["cloud"],
        vaults=tuple(_vault(resolver, name, (*path, "vaults", i), v) for i, v in enumerate(raw.get("vaults", []))),
        keys=tuple(_key(resolver, name, (*path, "keys", i), k) for i, k in enumerate(raw.get("keys", []))),
        role_assignments=tuple(
            assignment
            for i, a in enumerate(raw.get("roleAssignments", []))
            if (assignment := _role_assignment(resolver, name, (*path, "roleAssignments", i), a)) is not None
        ),
        astra_registrations=tuple(
            _astra_registration(resolver, name, (*path, "registrations", i, "astra"), r["astra"])
            for i, r in enumerate(raw.get("registrations", []))
            if "astra" in r
        ),
        source=resolver.source(path),
    )


def _vault(resolver: _Resolver, region: str, path: JsonPath, raw: dict[str, Any]) -> Vault:
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
        source=resolver.source(path),
    )


def _key(resolver: _Resolver, region: str, path: JsonPath, raw: dict[str, Any]) -> Key:
    key_type = raw.get("type", "RSA")
    is_rsa = key_type.startswith("RSA")
    source = resolver.source(path)
    if is_rsa and "curve" in raw:
        resolver.problem(source, "curve", f"an {key_type} key has a size, not a curve", "E-SCHEMA")
    if not is_rsa and "size" in raw:
        resolver.problem(source, "size", f"an {key_type} key has a curve, not a size", "E-SCHEMA")
    return Key(
        name=raw["name"],
        region=region,
        vault=raw["vault"],
        type=key_type,
        size=raw.get("size", 3072) if is_rsa else None,
        curve=None if is_rsa else raw.get("curve", "P-256"),
        source=source,
    )


def _role_assignment(
    resolver: _Resolver, region: str, path: JsonPath, raw: dict[str, Any]
) -> RoleAssignment | None:
    source = resolver.source(path)
    guid = role_guid(raw["role"])
    if guid is None:
        resolver.problem(source, "role", f"unknown role {raw['role']!r}: give a built-in role name or a role "
                         "definition GUID", "E-REFERENCE")
        return None
    vault: str = raw.get("vault", "")
    key: str | None = None
    if "scope" in raw:
        match = VAULT_SCOPE.match(raw["scope"])
        if match is None:
            resolver.problem(source, "scope", f"{raw['scope']!r} is wider than a vault: a role for a key must be "
                             "scoped to its vault or key, never a resource group or subscription", "R-ROLE-SCOPE")
            return None
        vault, key = match["vault"], match["key"]
    principal_kind, principal_value = next(iter(raw["principal"].items()))
    return RoleAssignment(region, Role(raw["role"], guid), vault, key, Principal(principal_kind, principal_value),
                          source)


def _astra_registration(resolver: _Resolver, region: str, path: JsonPath, raw: dict[str, Any]) -> AstraRegistration:
    source = resolver.source(path)
    written = raw["key"]
    match = KEY_IDENTIFIER.match(written)
    if written.startswith("https://") and match is None:
        resolver.problem(source, "key", f"{written!r} is not a Key Vault key identifier "
                         "(https://VAULT.vault.azure.net/keys/NAME)", "E-REFERENCE")
    if match is not None and match["version"]:
        resolver.problem(source, "key", f"{written!r} names a key version: register the versionless identifier "
                         f"https://{match['vault']}.vault.azure.net/keys/{match['key']} so that Astra follows "
                         "rotation (a versioned ID pins one version forever)", "R-VERSIONED-KEY-ID")
    key = match["key"] if match is not None else written
    return AstraRegistration(region, raw["product"], key, written if match is not None else None, source)


def _check_region_names(resolver: _Resolver, key_set: KeySet) -> None:
    seen: set[str] = set()
    for region in key_set.regions:
        if region.name in seen:
            resolver.problem(region.source, "name", f"region {region.name!r} is declared twice", "E-DUPLICATE")
        seen.add(region.name)
    _check_unique_names(resolver, [v for r in key_set.regions for v in r.vaults], "vault")
    for region in key_set.regions:
        _check_unique_names(resolver, region.keys, "key")


def _check_unique_names(resolver: _Resolver, items: Any, what: str) -> None:
    # Keys are referenced by name within their region, so two keys of one name are ambiguous even
    # in different vaults; vault names are global in Azure.
    seen: set[str] = set()
    for item in items:
        if item.name in seen:
            resolver.problem(item.source, "name", f"{what} {item.name!r} is declared twice", "E-DUPLICATE")
        seen.add(item.name)


def _find_vault(key_set: KeySet, name: str) -> Vault | None:
    return next((v for r in key_set.regions for v in r.vaults if v.name == name), None)


def _check_references(resolver: _Resolver, key_set: KeySet) -> None:
    for region in key_set.regions:
        for key in region.keys:
            _check_vault_reference(resolver, key_set, region, key.vault, key.source, "vault", "key")
        for assignment in region.role_assignments:
            field = "scope" if assignment.source.field_lines.get("scope") else "vault"
            vault_found = _check_vault_reference(resolver, key_set, region, assignment.vault, assignment.source,
                                                 field, "role assignment")
            if vault_found and assignment.key is not None and region.key(assignment.key) is None:
                resolver.problem(assignment.source, field, f"no key {assignment.key!r} is declared in vault "
                                 f"{assignment.vault!r}", "E-REFERENCE")
        for registration in region.astra_registrations:
            _check_registered_key(resolver, key_set, region, registration)


def _check_vault_reference(
    resolver: _Resolver, key_set: KeySet, region: Region, name: str, source: Source, field: str, what: str
) -> bool:
    if region.vault(name) is not None:
        return True
    elsewhere = _find_vault(key_set, name)
    if elsewhere is None:
        resolver.problem(source, field, f"no vault {name!r} is declared in region {region.name!r}", "E-REFERENCE")
    else:
        resolver.problem(source, field, f"vault {name!r} is in region {elsewhere.region!r}; a {what} in "
                         f"{region.name!r} must use a vault of the same region", "R-SAME-REGION")
    return False


def _check_registered_key(
    resolver: _Resolver, key_set: KeySet, region: Region, registration: AstraRegistration
) -> None:
    key = region.key(registration.key)
    if key is not None:
        _check_identifier_vault(resolver, registration, key)
        return
    elsewhere = next((r for r in key_set.regions if r.key(registration.key) is not None), None)
    if elsewhere is None:
        resolver.problem(registration.source, "key", f"no key {registration.key!r} is declared in region "
                         f"{region.name!r}", "E-REFERENCE")
    else:
        resolver.problem(registration.source, "key", f"key {registration.key!r} is in region {elsewhere.name!r}; "
                         f"Astra needs the key in the region it encrypts ({region.name!r})", "R-SAME-REGION")


def _check_identifier_vault(resolver: _Resolver, registration: AstraRegistration, key: Key) -> None:
    if registration.key_identifier is None:
        return
    match = KEY_IDENTIFIER.match(registration.key_identifier)
    if match is not None and match["vault"].lower() != key.vault.lower():
        resolver.problem(registration.source, "key", f"{registration.key_identifier!r} is in vault "
                         f"{match['vault']!r}, but key {key.name!r} is declared in vault {key.vault!r}",
                         "E-REFERENCE")
