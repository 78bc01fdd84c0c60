"""Seeding a validated world.yaml into a fresh state, one section at a time.

Each step raises SeedProblem for what the shape check cannot see (a wrong type, a duplicate, a
dangling reference); the emulator's own checks (vault names, key types) raise Refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cmkctl_sandbox import astra as astra_plane
from cmkctl_sandbox import graph, keys, rbac, vaults
from cmkctl_sandbox.arm_common import now_iso
from cmkctl_sandbox.ids import stable_uuid
from cmkctl_sandbox.roles import ROLE_NAMES
from cmkctl_sandbox.wire import State

Section = dict[str, Any]


class SeedProblem(Exception):
    def __init__(self, field: str, summary: str) -> None:
        super().__init__(f"{field}: {summary}")
        self.field = field
        self.summary = summary


def _require(condition: bool, field: str, summary: str) -> None:
    if not condition:
        raise SeedProblem(field, summary)


def replication_lag(state: State, azure: Section, astra: Section) -> None:
    """This world's own principal lag, in place of realism's default (replication.world_seconds)."""
    if "seconds" not in (azure.get("replicationLag") or {}):
        return
    seconds = azure["replicationLag"]["seconds"]
    _require(
        isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0,
        "azure.replicationLag.seconds",
        "expected a number of seconds, 0 or more",
    )
    state["graph"]["replication"]["seconds"] = seconds


def caller(state: State, azure: Section, astra: Section) -> None:
    given = azure.get("caller") or {}
    inside, roles = given.get("inside", state["caller"]["inside"]), given.get("roles", state["caller"]["roles"])
    _require(isinstance(inside, bool), "azure.caller.inside", "expected true or false")
    _require(isinstance(roles, list) and all(isinstance(r, str) for r in roles), "azure.caller.roles",
             "expected a list of role names, such as [Key Vault Crypto Officer]")
    state["caller"] = {**state["caller"], "inside": inside, "roles": roles}


def soft_deleted_vaults(state: State, azure: Section, astra: Section) -> None:
    for index, entry in enumerate(azure.get("softDeletedVaults") or []):
        item = {"name": entry} if isinstance(entry, str) else entry
        vaults.check_vault_name(str(item["name"]))
        name = str(item["name"])
        state["arm"]["deletedVaults"][name.lower()] = {
            "name": name,
            "location": item.get("location", ""),
            "deletionDate": str(item.get("deletionDate", "")),
            "scheduledPurgeDate": str(item.get("scheduledPurgeDate", "")),
            "purgeProtectionEnabled": bool(item.get("purgeProtectionEnabled", False)),
            "keys": {},
        }
        if item.get("vaultId"):
            # The live vault's resource ID, as Vaults_ListDeleted answers it (a vault deleted here gets its own).
            state["arm"]["deletedVaults"][name.lower()]["vaultId"] = str(item["vaultId"])
        _require(
            name.lower() not in state["arm"]["vaults"],
            f"azure.softDeletedVaults[{index}]",
            "a name cannot be both live and soft-deleted",
        )


def key_vaults(state: State, azure: Section, astra: Section) -> None:
    for index, entry in enumerate(azure.get("vaults") or []):
        name = str(entry["name"])
        _require(
            name.lower() not in state["arm"]["vaults"],
            f"azure.vaults[{index}].name",
            f"vault name {name!r} is declared twice; vault names are globally unique",
        )
        record = _vault_record(state, entry)
        for key in entry.get("keys") or []:
            record["keys"][str(key["name"]).lower()] = _key_record(key)
        state["arm"]["vaults"][name.lower()] = record


def _vault_record(state: State, entry: Section) -> dict[str, Any]:
    name = str(entry["name"])
    vaults.check_vault_name(name)
    given = {
        "tenantId": state["graph"]["tenantId"],
        "sku": {"family": "A", "name": entry.get("sku", "standard")},
    }
    # A vault made by hand carries only what its maker set (see vaults.SPARSE_PROPERTIES).
    for optional in ("enablePurgeProtection", "softDeleteRetentionInDays", "enableRbacAuthorization", "networkAcls"):
        if optional in entry:
            given[optional] = entry[optional]
    vaults.check_irreversible_flags(given)
    if "softDeleteRetentionInDays" in given:
        vaults.check_retention(given["softDeleteRetentionInDays"])
    resource = {
        "id": vaults.vault_id(str(entry["subscription"]), str(entry["resourceGroup"]), name),
        "name": name,
        "type": vaults.VAULT_TYPE,
        "location": str(entry["location"]),
        "tags": entry.get("tags") or {},
        "properties": vaults.vault_properties(name, given),
    }
    return {
        "subscriptionId": str(entry["subscription"]),
        "resourceGroup": str(entry["resourceGroup"]),
        "resource": resource,
        "keys": {},
        "unset": vaults.never_set(given),
    }


def _key_record(entry: Section) -> dict[str, Any]:
    properties = {k: v for k, v in entry.items() if k in ("kty", "keySize", "curveName", "keyOps")}
    return keys.new_key(str(entry["name"]), properties, entry.get("tags"))


def service_principals(state: State, azure: Section, astra: Section) -> None:
    for index, entry in enumerate(azure.get("servicePrincipals") or []):
        app_id = str(entry["appId"])
        _require(
            graph.by_app_id(state, app_id) is None,
            f"azure.servicePrincipals[{index}].appId",
            f"appId {app_id} is declared twice",
        )
        object_id = str(entry.get("objectId") or stable_uuid("service-principal", app_id)).lower()
        state["graph"]["servicePrincipals"][object_id] = graph.service_principal(
            app_id=app_id,
            object_id=object_id,
            display_name=str(entry.get("displayName") or f"app-{app_id[:8]}"),
            tenant_id=state["graph"]["tenantId"],
        )


def role_assignments(state: State, azure: Section, astra: Section) -> None:
    for index, entry in enumerate(azure.get("roleAssignments") or []):
        where = f"azure.roleAssignments[{index}]"
        scope = str(entry["scope"]).rstrip("/")
        definition = _role_definition_id(str(entry["role"]), scope)
        _require(bool(definition), f"{where}.role", "expected a role GUID, a roleDefinitionId or a known role name")
        principal = str(entry["principalId"]).lower()
        _require(
            principal in state["graph"]["servicePrincipals"],
            f"{where}.principalId",
            "must be the objectId of an entry in azure.servicePrincipals",
        )
        name = str(entry.get("name") or stable_uuid("role-assignment", scope.lower(), definition, principal))
        state["arm"]["roleAssignments"][name.lower()] = {
            "name": name.lower(),
            "scope": scope,
            "roleDefinitionId": definition,
            "principalId": principal,
            "principalType": entry.get("principalType", "ServicePrincipal"),
            "condition": None,
            "conditionVersion": None,
            "createdOn": now_iso(),
            "updatedOn": now_iso(),
            "createdBy": None,
            "updatedBy": None,
            "delegatedManagedIdentityResourceId": None,
            "description": None,
        }


def _role_definition_id(role: str, scope: str) -> str:
    """The roleDefinitionId for a role given as a full id, a GUID or a known name; "" if none fits."""
    if rbac.role_guid(role):
        return role
    by_name = {name.lower(): guid for guid, name in ROLE_NAMES.items()}
    guid = by_name.get(role.lower(), role)
    # Built-in roles are addressed through the subscription that holds the scope, as Bicep does.
    parts = scope.split("/")
    prefix = f"/subscriptions/{parts[2]}" if len(parts) > 2 and parts[1].lower() == "subscriptions" else ""
    candidate = f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
    return candidate if rbac.role_guid(candidate) else ""


def _check_product_provider(entry: Section, where: str) -> None:
    _require(
        entry["product"] in astra_plane.PRODUCTS,
        f"{where}.product",
        f"expected one of {', '.join(astra_plane.PRODUCTS)}",
    )
    _require(
        entry["provider"] in astra_plane.PROVIDERS,
        f"{where}.provider",
        f"expected one of {', '.join(astra_plane.PROVIDERS)}",
    )


def astra_registrations(state: State, azure: Section, astra: Section) -> None:
    for index, entry in enumerate(astra.get("registrations") or []):
        where = f"astra.registrations[{index}]"
        _check_product_provider(entry, where)
        registered = state["astra"]["keys"][entry["product"]]
        region = str(entry["region"]).lower()
        _require(
            all((k["provider"], k["region"]) != (entry["provider"], region) for k in registered),
            where,
            "Astra keeps one key per product, provider and region",
        )
        registered.append(
            {
                "provider": entry["provider"],
                "region": region,
                "keyID": str(entry["keyID"]),
                "registeredAt": "",
            }
        )


def astra_accounts(state: State, azure: Section, astra: Section) -> None:
    for index, entry in enumerate(astra.get("accounts") or []):
        where = f"astra.accounts[{index}]"
        _check_product_provider(entry, where)
        ids = entry["providerIds"]
        # An empty list is a region Astra has not unlocked for the organization.
        _require(
            isinstance(ids, list) and all(isinstance(i, str) for i in ids),
            f"{where}.providerIds",
            "expected a list of strings (empty: a region not enabled for the organization)",
        )
        state["astra"]["accounts"].append(
            {
                "product": entry["product"],
                "provider": entry["provider"],
                "region": str(entry["region"]).lower(),
                "providerIds": ids,
            }
        )


def astra_databases(state: State, azure: Section, astra: Section) -> None:
    for index, entry in enumerate(astra.get("databases") or []):
        cloud = str(entry["cloudProvider"]).upper()
        _require(
            cloud in ("AZURE", "AWS", "GCP"),
            f"astra.databases[{index}].cloudProvider",
            "expected AZURE, AWS or GCP",
        )
        name = str(entry["name"])
        state["astra"]["databases"].append(
            {
                "id": str(entry.get("id") or stable_uuid("database", name)),
                "orgId": state["astra"]["orgId"],
                "ownerId": stable_uuid("astra-owner"),
                "info": {
                    "name": name,
                    "cloudProvider": cloud,
                    "region": str(entry["region"]),
                    "tier": str(entry.get("tier", "serverless")),
                },
                "status": str(entry.get("status", "ACTIVE")).upper(),
            }
        )


Step = Callable[[State, Section, Section], None]
# Order matters: role assignments refer to service principals seeded before them.
STEPS: tuple[tuple[str, Step], ...] = (
    ("azure.replicationLag", replication_lag),
    ("azure.caller", caller),
    ("azure.vaults", key_vaults),
    ("azure.softDeletedVaults", soft_deleted_vaults),
    ("azure.servicePrincipals", service_principals),
    ("azure.roleAssignments", role_assignments),
    ("astra.registrations", astra_registrations),
    ("astra.accounts", astra_accounts),
    ("astra.databases", astra_databases),
)
