"""`cmkctl export`: a manifest of what already exists, so a team that set things up by hand starts
from the truth. Planning the exported manifest shows no changes.

Only what cmkctl can manage is written: vaults, their keys, built-in role assignments on them, and
the Astra and Confluent registrations of those keys. What cannot be expressed is listed as a
comment, not guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import yaml

from reconciler.core.roles import role_name
from reconciler.manifest.keyref import KEY_IDENTIFIER
from reconciler.manifest.model import KeySet

PRODUCTS = ("serverless", "managed-clusters")
MODELINE = "# yaml-language-server: $schema=https://cmkctl.dev/schemas/manifest.v1.json\n"


class AstraLists(Protocol):
    def provider_ids(self, product: str, cloud: str, region: str) -> list[str]: ...

    def registrations(self, product: str) -> list[dict[str, Any]]: ...


class Lists(Protocol):
    """The listing calls export needs; `reconciler.providers.inventory.Inventory` provides them."""

    @property
    def astra(self) -> AstraLists: ...

    def vaults(self, location: str) -> list[dict[str, Any]]: ...

    def keys(self, resource_group: str, vault: str) -> list[dict[str, Any]]: ...

    def role_assignments(self, scope: str) -> list[dict[str, Any]]: ...

    def app_id(self, object_id: str) -> str | None: ...

    def confluent_keys(self) -> list[dict[str, Any]]:
        """BYOK keys as {"keyId": versionless Azure key URI, "applicationId": ...}."""
        ...


def export(key_set: KeySet, lists: Lists, regions: Sequence[str], resource_group: str | None) -> tuple[str, list[str]]:
    """The manifest text, and what could not be exported."""
    skipped: list[str] = []
    accounts: dict[str, Any] = {}
    if key_set.accounts.azure_subscription_id:
        accounts["azure"] = {"tenantId": key_set.accounts.azure_tenant_id,
                             "subscriptionId": key_set.accounts.azure_subscription_id}
    uses_astra = key_set.accounts.astra_organization_id is not None
    if uses_astra:
        accounts["astra"] = {"organizationId": key_set.accounts.astra_organization_id}
    confluent_keys = lists.confluent_keys() if key_set.accounts.confluent_environment_id else None
    if confluent_keys is not None:
        accounts["confluent"] = {"environmentId": key_set.accounts.confluent_environment_id}
    manifest = {
        "apiVersion": "cmkctl/v1",
        "kind": "KeySet",
        "metadata": {"name": key_set.name},
        "accounts": accounts,
        "regions": [_region(lists, region, resource_group, uses_astra, confluent_keys or [], skipped)
                    for region in regions],
    }
    header = MODELINE + f"# Exported by cmkctl from what exists in {', '.join(regions)}.\n"
    header += "".join(f"# not exported: {line}\n" for line in skipped)
    return header + yaml.safe_dump(manifest, sort_keys=False, width=120), skipped


def _region(lists: Lists, region: str, resource_group: str | None, uses_astra: bool,
            confluent_keys: list[dict[str, Any]], skipped: list[str]) -> dict[str, Any]:
    vaults = sorted((v for v in lists.vaults(region) if resource_group in (None, v["resourceGroup"])),
                    key=lambda v: v["name"])
    keys = {v["name"]: sorted(lists.keys(v["resourceGroup"], v["name"]), key=lambda k: k["name"]) for v in vaults}
    # Confluent's application of a BYOK key is named, in the manifest, by the key it serves.
    confluent = {c["applicationId"]: name for c in confluent_keys if (name := _declared_key(c["keyId"], keys))}
    principals = {**({app: {"astra": p} for app, p in _astra_apps(lists, region).items()} if uses_astra else {}),
                  **{app: {"confluent": key} for app, key in confluent.items()}}
    entry: dict[str, Any] = {"name": region, "cloud": "azure"}
    entry["vaults"] = [_vault(v) for v in vaults]
    entry["keys"] = [_key(vault, k) for vault, found in keys.items() for k in found]
    entry["roleAssignments"] = [a for v in vaults for a in _assignments(lists, v, principals, skipped)]
    entry["registrations"] = (_registrations(lists, region, keys, skipped) if uses_astra else []) + [
        {"confluent": {"key": key}} for key in sorted(confluent.values())]
    return {name: value for name, value in entry.items() if value != []}


def _declared_key(key_id: str, keys: Mapping[str, list[dict[str, Any]]]) -> str | None:
    """The name of the exported key `key_id` identifies, if it is one of them."""
    match = KEY_IDENTIFIER.match(key_id or "")
    if match is None or match["key"] not in {k["name"] for k in keys.get(match["vault"], [])}:
        return None
    return match["key"]


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


def _astra_apps(lists: Lists, region: str) -> dict[str, str]:
    """Astra's provider (application) IDs of the region -> the product they serve."""
    return {app: product for product in PRODUCTS for app in lists.astra.provider_ids(product, "azure", region)}


def _assignments(lists: Lists, vault: Mapping[str, Any], principals: Mapping[str, dict[str, str]],
                 skipped: list[str]) -> Iterable[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    for assignment in sorted(lists.role_assignments(vault["id"]), key=lambda a: (a["role"], a["principalId"])):
        role = role_name(assignment["role"])
        if role == assignment["role"]:
            skipped.append(f"role {role} on vault {vault['name']} (not a built-in role cmkctl knows)")
            continue
        principal = _principal(lists, assignment, principals)
        if (role, str(principal)) not in seen:
            seen.add((role, str(principal)))
            yield {"role": role, "vault": vault["name"], "principal": principal}


def _principal(lists: Lists, assignment: Mapping[str, Any],
               principals: Mapping[str, dict[str, str]]) -> dict[str, str]:
    app_id = lists.app_id(assignment["principalId"]) if assignment["principalType"] == "ServicePrincipal" else None
    if app_id is None:
        return {"objectId": assignment["principalId"]}
    return principals.get(app_id, {"servicePrincipal": app_id})


def _registrations(lists: Lists, region: str, keys: Mapping[str, list[dict[str, Any]]],
                   skipped: list[str]) -> list[dict[str, Any]]:
    found = []
    for product in PRODUCTS:
        for entry in lists.astra.registrations(product):
            fields = {k.lower(): v for k, v in entry.items()}
            if str(fields.get("cloudprovider", "")).lower() != "azure" or fields.get("region") != region:
                continue
            name = _declared_key(str(fields.get("keyid", "")), keys)
            if name is None:
                skipped.append(f"Astra {product} key {fields.get('keyid')} in {region} (its vault was not exported)")
                continue
            found.append({"astra": {"product": product, "key": name}})
    return found
