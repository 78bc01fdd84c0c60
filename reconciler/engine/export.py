"""`cmkctl export`: a manifest of what already exists, so a team that set things up by hand starts
from the truth. Planning the exported manifest shows no changes.

The core writes vaults, their keys (with their rotation policies), user-assigned identities,
built-in role assignments and access policies on the vaults, and in AWS regions KMS keys; each
plug-in it is handed writes its own registrations and names its own principals
(`Plugin.export_azure`, `kms_principals`, `export_aws`). What cannot be expressed, or read, is
listed as a comment, with why, not guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

from reconciler.core.roles import role_name
from reconciler.engine import export_services as services
from reconciler.manifest.loader import API_VERSION, KIND
from reconciler.manifest.model import KeySet
from reconciler.plugins import PluginTable
from reconciler.plugins.base import ExportRegion

MODELINE = "# yaml-language-server: $schema=https://cmkctl.dev/schemas/manifest.v1.json\n"
# What Key Vault answers for the rotation policy of a key that was never given one.
KEY_VAULT_DEFAULT_POLICY = {"notifyBefore": "P30D"}
# AWS names its regions `us-east-1`; Azure's have no dash (`eastus`).
AWS_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")


@dataclass
class Exported:
    """The exported manifest as data, and one line for each object that could not be exported."""

    manifest: dict[str, Any]
    skipped: list[str] = field(default_factory=list)
    regions: tuple[str, ...] = ()

    def to_yaml(self) -> str:
        header = MODELINE + f"# Exported by cmkctl from what exists in {', '.join(self.regions)}.\n"
        header += "".join(f"# not exported: {line}\n" for line in self.skipped)
        return header + yaml.dump(self.manifest, Dumper=_PlainDumper, sort_keys=False, width=120)


class _PlainDumper(yaml.SafeDumper):
    """Writes each value where it stands: a reader sees no `&id001` anchors or `*id001` aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


class Lists(Protocol):
    """The listing calls the core's part of export needs; `reconciler.providers.inventory.Inventory`
    provides them, and those each plug-in asks for its own part."""

    def vaults(self, location: str) -> list[dict[str, Any]]: ...

    def keys(self, resource_group: str, vault: str) -> list[dict[str, Any]]: ...

    def rotation_policy(self, vault_uri: str, key: str) -> dict[str, str | None] | str: ...

    def role_assignments(self, scope: str) -> list[dict[str, Any]]: ...

    def app_id(self, object_id: str) -> str | None: ...

    def identities(self, location: str) -> list[dict[str, Any]]: ...

    def kms_keys(self, region: str) -> list[dict[str, Any]]: ...


def export(key_set: KeySet, lists: Lists, regions: Sequence[str], resource_group: str | None,
           plugins: PluginTable) -> Exported:
    """The manifest of what exists in `regions`, and what could not be exported."""
    exported = Exported({}, regions=tuple(regions))
    accounts = {**_accounts(key_set), **{name: entry for plugin in plugins
                                         for name, entry in plugin.export_accounts(key_set).items()}}
    exported.manifest = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": key_set.name},
        "accounts": accounts,
        "regions": [_aws_region(lists, key_set, region, plugins, exported.skipped) if AWS_REGION.match(region) else
                    _region(lists, _Context(key_set, region, resource_group, plugins), exported.skipped)
                    for region in regions],
    }
    return exported


def _accounts(key_set: KeySet) -> dict[str, Any]:
    given = key_set.accounts
    found: dict[str, Any] = {}
    if given.azure_subscription_id:
        found["azure"] = {"tenantId": given.azure_tenant_id, "subscriptionId": given.azure_subscription_id}
    if given.aws_account_id:
        found["aws"] = {"accountId": given.aws_account_id}
    return found


def _aws_region(lists: Lists, key_set: KeySet, region: str, plugins: PluginTable,
                skipped: list[str]) -> dict[str, Any]:
    account = key_set.accounts.aws_account_id
    if account is None:
        skipped.append(f"{region}: the accounts name no AWS account (accounts.aws) to export its KMS keys from")
        return {"name": region, "cloud": "aws"}
    found = lists.kms_keys(region)
    here = ExportRegion(key_set, region, lists)
    named = {arn: who for plugin in plugins for arn, who in plugin.kms_principals(here).items()}
    keys = services.kms_keys(found, account, named, skipped)
    entry: dict[str, Any] = {"name": region, "cloud": "aws", "keys": keys}
    aliases = {k["arn"]: k["alias"] for k in found}
    entry["registrations"] = [r for plugin in plugins for r in plugin.export_aws(here, aliases, skipped)]
    return {name: value for name, value in entry.items() if value != []}


@dataclass(frozen=True)
class _Context:
    key_set: KeySet
    region: str
    resource_group: str | None
    plugins: PluginTable


def _region(lists: Lists, context: _Context, skipped: list[str]) -> dict[str, Any]:
    region = context.region
    vaults = sorted((v for v in lists.vaults(region) if context.resource_group in (None, v["resourceGroup"])),
                    key=lambda v: v["name"])
    keys = {v["name"]: sorted(lists.keys(v["resourceGroup"], v["name"]), key=lambda k: k["name"]) for v in vaults}
    identities = sorted(lists.identities(region), key=lambda i: i["name"])
    here = ExportRegion(context.key_set, region, lists, keys, {i["name"]: i["name"] for i in identities})
    parts = [plugin.export_azure(here) for plugin in context.plugins]
    principals = _Principals(lists, {app: who for part in parts for app, who in part.applications.items()},
                             {**{i["principalId"]: {"identity": i["name"]} for i in identities},
                              **{oid: who for part in parts for oid, who in part.principals.items()}})
    entry: dict[str, Any] = {"name": region, "cloud": "azure"}
    entry["identities"] = [{"name": i["name"], "resourceGroup": i["resourceGroup"]} for i in identities]
    entry["vaults"] = [_vault(v) for v in vaults]
    uris = {v["name"]: v.get("vaultUri") for v in vaults}
    entry["keys"] = [_with_rotation(lists, uris[vault], _key(vault, k), skipped)
                     for vault, found in keys.items() for k in found]
    entry["roleAssignments"] = [a for v in vaults for a in _assignments(lists, v, principals, skipped)]
    entry["accessPolicies"] = [p for v in vaults for p in _access_policies(v, principals)]
    entry["registrations"] = [r for part in parts for r in part.registrations(skipped)]
    return {name: value for name, value in entry.items() if value != []}


@dataclass
class _Principals:
    """Who an object ID is, in the manifest's words: a declared identity or a plug-in's object, a plug-in's
    application, another service principal by its application ID, else the object ID itself."""

    lists: Lists
    applications: Mapping[str, dict[str, str]]
    # object ID -> the declared object it is the principal of (an identity, a plug-in's cluster)
    declared: Mapping[str, dict[str, str]]

    def of(self, object_id: str, principal_type: str = "ServicePrincipal") -> dict[str, str]:
        if object_id in self.declared:
            return dict(self.declared[object_id])
        app_id = self.lists.app_id(object_id) if principal_type == "ServicePrincipal" else None
        if app_id is None:
            return {"objectId": object_id}
        return dict(self.applications.get(app_id, {"servicePrincipal": app_id}))


def _vault(vault: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": vault["name"],
        "resourceGroup": vault["resourceGroup"],
        "sku": vault["sku"],
        "purgeProtection": vault["enablePurgeProtection"],
        "softDeleteRetentionDays": vault["softDeleteRetentionInDays"],
        "authorization": "rbac" if vault["enableRbacAuthorization"] else "accessPolicies",
        "trustedServicesBypass": vault["networkAcls"]["bypass"] == "AzureServices",
        "publicNetwork": vault["networkAcls"]["defaultAction"],
    }


def _key(vault: str, key: Mapping[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": key["name"], "vault": vault, "type": key["kty"]}
    if key.get("keySize") is not None:
        entry["size"] = key["keySize"]
    if key.get("curveName") is not None:
        entry["curve"] = key["curveName"]
    return entry


def _with_rotation(lists: Lists, vault_uri: str | None, key: dict[str, Any], skipped: list[str]) -> dict[str, Any]:
    """The key with its rotation policy, unless it has none but the one Key Vault gives every key."""
    where = f"the rotation policy of key {key['vault']}/{key['name']}"
    if not vault_uri:
        skipped.append(f"{where} (vault {key['vault']} has no vaultUri to read it from)")
        return key
    policy = lists.rotation_policy(vault_uri, key["name"])
    if isinstance(policy, str):
        skipped.append(f"{where} (Key Vault refused to read it: {policy})")
        return key
    declared = {name: value for name, value in policy.items() if value is not None}
    # Key Vault answers a key that was never given a policy with a notice 30 days before an expiry it
    # does not have; declaring that would add a block to every exported key and change nothing.
    if declared and declared != KEY_VAULT_DEFAULT_POLICY:
        key["rotation"] = declared
    return key


def _assignments(lists: Lists, vault: Mapping[str, Any], principals: _Principals,
                 skipped: list[str]) -> Iterable[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    for assignment in sorted(lists.role_assignments(vault["id"]), key=lambda a: (a["role"], a["principalId"])):
        role = role_name(assignment["role"])
        if role == assignment["role"]:
            skipped.append(f"role {role} on vault {vault['name']} (not a built-in role cmkctl knows)")
            continue
        principal = principals.of(assignment["principalId"], assignment["principalType"])
        if (role, str(principal)) not in seen:
            seen.add((role, str(principal)))
            yield {"role": role, "vault": vault["name"], "principal": principal}


def _access_policies(vault: Mapping[str, Any], principals: _Principals) -> Iterable[dict[str, Any]]:
    if vault["enableRbacAuthorization"]:
        return  # a vault under RBAC ignores its access policies, and a manifest may not declare them
    for policy in sorted(vault.get("accessPolicies") or [], key=lambda p: p["objectId"]):
        if policy["keys"]:
            yield {"vault": vault["name"], "principal": principals.of(policy["objectId"]), "keys": policy["keys"]}
