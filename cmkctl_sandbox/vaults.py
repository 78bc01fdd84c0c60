"""Microsoft.KeyVault/vaults: create (a long-running PUT), read, patch, delete, list.

A create answers 200 with `provisioningState: RegisteringDns`, and the vault's GETs say so until,
about 19 seconds of the emulator's time later, it is `Succeeded`, as the live recording answers (the
.NET SDK's KeyVaultManagementVaultCreateUpdateDelete: PUT 07:03:56 RegisteringDns, GETs, Succeeded at
07:04:15). An update by PUT answers at once, Succeeded (the same recording's second PUT).
"""

from __future__ import annotations

import re
from typing import Any

from cmkctl_sandbox import operations, realism
from cmkctl_sandbox.arm_common import (
    arm_section,
    bad_request,
    json_object,
    now_iso,
    refuse,
    resource_not_found,
)
from cmkctl_sandbox.locations import unavailable
from cmkctl_sandbox.routes import Params
from cmkctl_sandbox.wire import Reply, Request, State

VAULT_TYPE = "Microsoft.KeyVault/vaults"
# The documented rule: 3-24 letters, digits and hyphens, starting with a letter, ending with a
# letter or digit, no two hyphens in a row.
VAULT_NAME = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
PURGE_FALSE = (
    'The property "enablePurgeProtection" cannot be set to false. '
    "Enabling the purge protection for a vault is an irreversible action."
)
SOFT_DELETE_FALSE = (
    'The property "enableSoftDelete" cannot be set to false. '
    "Enabling the soft delete for a vault is an irreversible action."
)
RETENTION_FIXED = 'The property "softDeleteRetentionInDays" has been set already and it can\'t be modified.'
NAME_IN_DELETED_STATE = (
    "A vault with the same name already exists in deleted state. You need to either recover or purge "
    "existing key vault. Follow this link https://go.microsoft.com/fwlink/?linkid=2149745 for more "
    "information on soft delete."
)
# Properties live ARM leaves out of its answers until a request sets them (a recorded vault made
# without them has none of the three): the sandbox keeps their effective value for its own checks
# and names them in the record's "unset" list, which the wire form leaves out. A vault that never
# set enableRbacAuthorization is an access-policy vault, whatever the api-version: the 2026-05-15
# createVault and getVault examples answer such a vault with access policies and without the
# property, although that definition's schema says `"default": true` (README.md says more).
SPARSE_PROPERTIES = ("softDeleteRetentionInDays", "enableRbacAuthorization", "networkAcls")


def vault_id(subscription: str, resource_group: str, name: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{VAULT_TYPE}/{name}"


def find_vault(state: State, name: str) -> dict[str, Any] | None:
    record: dict[str, Any] | None = arm_section(state)["vaults"].get(name.lower())
    return record


def wire_vault(record: dict[str, Any]) -> dict[str, Any]:
    """The vault as ARM answers it: without the properties no request ever set."""
    resource = record["resource"]
    unset = set(record.get("unset") or ())
    properties = {name: value for name, value in resource["properties"].items() if name not in unset}
    return {**resource, "properties": properties}


def never_set(given: dict[str, Any], still_unset: Any = SPARSE_PROPERTIES) -> list[str]:
    """The sparse properties that neither `given` nor an earlier request set."""
    return [name for name in SPARSE_PROPERTIES if name not in given and name in still_unset]


def vault_in_group(state: State, params: Params) -> dict[str, Any]:
    """The vault the path names, or a 404 when it is missing or lives in another group."""
    record = find_vault(state, params["vault"])
    if record is None or not _same_group(record, params):
        resource_not_found(VAULT_TYPE, params["vault"], params["rg"])
    return record


def _same_group(record: dict[str, Any], params: Params) -> bool:
    same: bool = (
        record["subscriptionId"].lower() == params["sub"].lower()
        and record["resourceGroup"].lower() == params["rg"].lower()
    )
    return same


def check_vault_name(name: str) -> None:
    if not VAULT_NAME.match(name):
        refuse(
            400,
            "VaultNameNotValid",
            f"The vault name '{name}' is invalid. A vault's name must be between 3-24 alphanumeric "
            "characters. The name must begin with a letter, end with a letter or digit, and not contain "
            "consecutive hyphens. Follow this link for more information: https://go.microsoft.com/fwlink/?linkid=2147742",
        )


def check_irreversible_flags(properties: dict[str, Any]) -> None:
    if properties.get("enablePurgeProtection") is False:
        bad_request(PURGE_FALSE)
    if properties.get("enableSoftDelete") is False:
        bad_request(SOFT_DELETE_FALSE)


def check_retention(value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 7 <= value <= 90:
        bad_request('The property "softDeleteRetentionInDays" must be an integer between 7 and 90.')


def network_acls(given: dict[str, Any] | None) -> dict[str, Any]:
    given = given or {}
    return {
        "bypass": given.get("bypass", "AzureServices"),
        "defaultAction": given.get("defaultAction", "Allow"),
        "ipRules": given.get("ipRules", []),
        "virtualNetworkRules": given.get("virtualNetworkRules", []),
    }


def vault_properties(name: str, given: dict[str, Any]) -> dict[str, Any]:
    """The properties ARM returns for a vault built from the ones a PUT sent."""
    properties: dict[str, Any] = {
        "sku": {"family": given["sku"].get("family", "A"), "name": given["sku"]["name"]},
        "tenantId": given["tenantId"],
        "accessPolicies": given.get("accessPolicies", []),
        "enabledForDeployment": given.get("enabledForDeployment", False),
        "enabledForDiskEncryption": given.get("enabledForDiskEncryption", False),
        "enabledForTemplateDeployment": given.get("enabledForTemplateDeployment", False),
        "enableSoftDelete": True,
        "softDeleteRetentionInDays": given.get("softDeleteRetentionInDays", 90),
        "enableRbacAuthorization": given.get("enableRbacAuthorization", False),
        "vaultUri": f"https://{name}.vault.azure.net/",
        "networkAcls": network_acls(given.get("networkAcls")),
        "provisioningState": "Succeeded",
        "publicNetworkAccess": given.get("publicNetworkAccess", "Enabled"),
    }
    if given.get("enablePurgeProtection"):
        # ARM omits the flag until it is on.
        properties["enablePurgeProtection"] = True
    return properties


def _validated_put_body(request: Request) -> dict[str, Any]:
    body = json_object(request)
    if not isinstance(body.get("location"), str) or not body["location"]:
        refuse(400, "LocationRequired", "The location property is required for this definition.")
    if (why := unavailable(body["location"], "Microsoft.KeyVault/vaults")) is not None:
        refuse(400, "LocationNotAvailableForResourceType", why)
    properties = body.get("properties")
    if not isinstance(properties, dict):
        bad_request("The request body must contain 'properties'.")
    if not isinstance(properties.get("tenantId"), str):
        bad_request("The 'tenantId' property is required.")
    if not isinstance(properties.get("sku"), dict) or properties["sku"].get("name") not in (
        "standard",
        "premium",
    ):
        bad_request("The 'sku' property is required and its name must be 'standard' or 'premium'.")
    check_irreversible_flags(properties)
    if "softDeleteRetentionInDays" in properties:
        check_retention(properties["softDeleteRetentionInDays"])
    return body


def list_vaults(request: Request, state: State, params: Params) -> Reply:
    matching = [wire_vault(record) for record in arm_section(state)["vaults"].values() if _same_group(record, params)]
    return Reply(200, {"value": matching})


def list_subscription_vaults(request: Request, state: State, params: Params) -> Reply:
    records = arm_section(state)["vaults"].values()
    matching = [wire_vault(r) for r in records if r["subscriptionId"].lower() == params["sub"].lower()]
    return Reply(200, {"value": matching})


def get_vault(request: Request, state: State, params: Params) -> Reply:
    return Reply(200, wire_vault(vault_in_group(state, params)))


def put_vault(request: Request, state: State, params: Params) -> Reply:
    name = params["vault"]
    check_vault_name(name)
    body = _validated_put_body(request)
    existing = find_vault(state, name)
    if existing is None:
        return _create_vault(request, state, params, body)
    if not _same_group(existing, params):
        refuse(
            409,
            "VaultAlreadyExists",
            f"The vault name '{name}' is already in use. Vault names are globally unique so it is possible "
            "that the name is already taken. If you are sure that the vault name was not taken then it is "
            "possible that a vault with the same name was recently deleted but not purged after being "
            "placed in a recoverable state.",
        )
    return _update_vault(request, existing, body)


def _create_vault(request: Request, state: State, params: Params, body: dict[str, Any]) -> Reply:
    arm = arm_section(state)
    name = params["vault"]
    deleted = arm["deletedVaults"].get(name.lower())
    recovering = body["properties"].get("createMode") == "recover"
    if deleted is not None and not recovering:
        refuse(409, "ConflictError", NAME_IN_DELETED_STATE)
    if deleted is None and recovering:
        refuse(
            404,
            "SoftDeletedVaultDoesNotExist",
            f"A soft deleted vault with the given name '{name}' does not exist. Ensure that the name "
            "for the vault that is being attempted to recover is in a recoverable state.",
        )
    record = _new_record(request, params, body)
    if deleted is not None:
        record["keys"] = deleted.get("keys", {})
        del arm["deletedVaults"][name.lower()]
    arm["vaults"][name.lower()] = record
    # It registers its DNS name for realism's vaultCreate (the recording above).
    operations.start(state, request, operations.Operation(("arm", "vaults", name.lower(), "resource"),
                                                          realism.VAULT_CREATE))
    return Reply(200, wire_vault(record))


def _new_record(request: Request, params: Params, body: dict[str, Any]) -> dict[str, Any]:
    properties = vault_properties(params["vault"], body["properties"])
    # Not final yet: the create's operation ends it (see the module's docstring).
    properties["provisioningState"] = "RegisteringDns"
    resource = {
        "id": vault_id(params["sub"], params["rg"], params["vault"]),
        "name": params["vault"],
        "type": VAULT_TYPE,
        "location": body["location"],
        "tags": body.get("tags") or {},
        "properties": properties,
    }
    return {"subscriptionId": params["sub"], "resourceGroup": params["rg"], "resource": resource, "keys": {},
            "unset": never_set(body["properties"])}


def _update_vault(request: Request, record: dict[str, Any], body: dict[str, Any]) -> Reply:
    resource = record["resource"]
    old = resource["properties"]
    if body["location"].replace(" ", "").lower() != resource["location"].lower():
        refuse(
            409,
            "InvalidResourceLocation",
            f"The resource '{resource['name']}' already exists in location '{resource['location']}' in "
            f"resource group '{record['resourceGroup']}'. A resource with the same name cannot be created "
            f"in location '{body['location']}'. Please select a new resource name.",
        )
    given = dict(body["properties"])
    _keep_fixed_settings(old, given)
    resource["properties"] = vault_properties(resource["name"], given)
    resource["tags"] = body.get("tags") or {}
    record["unset"] = never_set(body["properties"], record.get("unset") or ())
    return Reply(200, wire_vault(record))


def _keep_fixed_settings(old: dict[str, Any], given: dict[str, Any]) -> None:
    """Apply the rules that outlive a PUT: retention is fixed, purge protection stays on."""
    retention = given.setdefault("softDeleteRetentionInDays", old["softDeleteRetentionInDays"])
    if retention != old["softDeleteRetentionInDays"]:
        bad_request(RETENTION_FIXED)
    if old.get("enablePurgeProtection"):
        given["enablePurgeProtection"] = True


def patch_vault(request: Request, state: State, params: Params) -> Reply:
    record = vault_in_group(state, params)
    body = json_object(request)
    patch = body.get("properties") or {}
    if not isinstance(patch, dict):
        bad_request("'properties' must be an object.")
    check_irreversible_flags(patch)
    resource = record["resource"]
    merged = {**resource["properties"], **patch}
    if "softDeleteRetentionInDays" in patch:
        check_retention(patch["softDeleteRetentionInDays"])
    _keep_fixed_settings(resource["properties"], merged)
    if "networkAcls" in patch:
        merged["networkAcls"] = network_acls({**resource["properties"]["networkAcls"], **patch["networkAcls"]})
    resource["properties"] = vault_properties(resource["name"], merged)
    if "tags" in body:
        resource["tags"] = body["tags"] or {}
    record["unset"] = never_set(patch, record.get("unset") or ())
    return Reply(200, wire_vault(record))


def deleted_vault(subscription: str, record: dict[str, Any]) -> dict[str, Any]:
    """A soft-deleted vault as Vaults_GetDeleted answers (the spec's getDeletedVault example)."""
    location = record.get("location", "")
    properties = {"location": location, "deletionDate": record.get("deletionDate", ""),
                  "scheduledPurgeDate": record.get("scheduledPurgeDate", ""),
                  "purgeProtectionEnabled": bool(record.get("purgeProtectionEnabled")),
                  "tags": record.get("tags", {})}
    if record.get("vaultId"):
        properties["vaultId"] = record["vaultId"]
    return {"id": f"/subscriptions/{subscription}/providers/Microsoft.KeyVault/locations/{location}/deletedVaults/"
                  f"{record['name']}",
            "name": record["name"], "type": "Microsoft.KeyVault/deletedVaults", "properties": properties}


def list_deleted_vaults(request: Request, state: State, params: Params) -> Reply:
    records = arm_section(state)["deletedVaults"].values()
    return Reply(200, {"value": [deleted_vault(params["sub"], record) for record in records]})


def get_deleted_vault(request: Request, state: State, params: Params) -> Reply:
    record = arm_section(state)["deletedVaults"].get(params["vault"].lower())
    if record is None or record.get("location", "").lower() != params["location"].lower():
        refuse(404, "ResourceNotFound", f"The deleted vault '{params['vault']}' was not found.")
    return Reply(200, deleted_vault(params["sub"], record))


def delete_vault(request: Request, state: State, params: Params) -> Reply:
    arm = arm_section(state)
    record = find_vault(state, params["vault"])
    if record is None or not _same_group(record, params):
        return Reply(204)
    resource = record["resource"]
    # Soft delete is always on: the name stays taken until it is purged or recovered.
    arm["deletedVaults"][resource["name"].lower()] = {
        "name": resource["name"],
        "location": resource["location"],
        "deletionDate": now_iso(),
        "purgeProtectionEnabled": bool(resource["properties"].get("enablePurgeProtection")),
        "vaultId": resource["id"],
        "tags": resource.get("tags") or {},
        "keys": record["keys"],
    }
    del arm["vaults"][resource["name"].lower()]
    return Reply(200)
