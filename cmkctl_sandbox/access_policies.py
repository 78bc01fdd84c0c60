"""`PUT .../vaults/{vault}/accessPolicies/{add|replace|remove}` (Vaults_UpdateAccessPolicy).

Entries are matched by (tenantId, objectId, applicationId). `add` merges the given permissions into
the matching entry or appends a new one; `replace` sets the entry's permissions to the given ones;
`remove` takes the given permissions away and drops an entry left with none. (The REST reference
names the three kinds without defining them; this is how the Azure SDKs' and Terraform's callers
use them.) The answer is the vault's access policies after the change. A vault using Azure RBAC
keeps its policies but ignores them, as Key Vault does.
"""

from __future__ import annotations

from typing import Any

from cmkctl_sandbox.arm_common import bad_request, json_object
from cmkctl_sandbox.propagation import granted
from cmkctl_sandbox.routes import Params, Route, route
from cmkctl_sandbox.vaults import vault_in_group
from cmkctl_sandbox.wire import Reply, Request, State

PERMISSION_KINDS = ("keys", "secrets", "certificates", "storage")
OPERATIONS = ("add", "replace", "remove")


def _entries(request: Request) -> list[dict[str, Any]]:
    properties = json_object(request).get("properties")
    entries = properties.get("accessPolicies") if isinstance(properties, dict) else None
    if not isinstance(entries, list) or not entries:
        bad_request("The request body must contain properties.accessPolicies with at least one entry.")
    for entry in entries:
        if not isinstance(entry, dict) or not all(isinstance(entry.get(f), str) for f in ("tenantId", "objectId")):
            bad_request("Each access policy entry needs tenantId and objectId.")
        if not isinstance(entry.get("permissions"), dict):
            bad_request("Each access policy entry needs permissions.")
    return entries


def _same_entry(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(str(a.get(f) or "").lower() == str(b.get(f) or "").lower()
               for f in ("tenantId", "objectId", "applicationId"))


def _merge(current: dict[str, Any], given: dict[str, Any], operation: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for kind in PERMISSION_KINDS:
        held = list(current.get(kind) or [])
        asked = list(given.get(kind) or [])
        if operation == "add":
            held += [p for p in asked if p.lower() not in {h.lower() for h in held}]
        elif operation == "replace":
            held = asked
        else:
            held = [p for p in held if p.lower() not in {a.lower() for a in asked}]
        if held:
            merged[kind] = held
    return merged


def apply_operation(policies: list[dict[str, Any]], entry: dict[str, Any], operation: str) -> list[dict[str, Any]]:
    """The vault's access policies after `operation` with one entry of the request."""
    index = next((i for i, p in enumerate(policies) if _same_entry(p, entry)), None)
    if index is None:
        if operation == "remove":
            return policies
        fresh = {k: v for k, v in entry.items() if k in ("tenantId", "objectId", "applicationId")}
        return [*policies, {**fresh, "permissions": _merge({}, entry["permissions"], "add")}]
    permissions = _merge(policies[index].get("permissions") or {}, entry["permissions"], operation)
    if not permissions:
        return policies[:index] + policies[index + 1:]
    return [*policies[:index], {**policies[index], "permissions": permissions}, *policies[index + 1:]]


def update_access_policy(request: Request, state: State, params: Params) -> Reply:
    operation = params["operation"].lower()
    if operation not in OPERATIONS:
        bad_request(f"The operation kind '{params['operation']}' is not one of add, replace, remove.")
    record = vault_in_group(state, params)
    properties = record["resource"]["properties"]
    policies = list(properties.get("accessPolicies") or [])
    for entry in _entries(request):
        policies = apply_operation(policies, entry, operation)
        if operation != "remove":
            granted(state, entry["objectId"])
    properties["accessPolicies"] = policies
    resource = record["resource"]
    return Reply(200, {
        "id": f"{resource['id']}/accessPolicies/{operation}",
        "name": operation,
        "type": "Microsoft.KeyVault/vaults/accessPolicies",
        "location": resource["location"],
        "properties": {"accessPolicies": policies},
    })


def has_key_permissions(vault: dict[str, Any], object_id: str, wanted: tuple[str, ...]) -> bool:
    """Whether an access policy gives `object_id` every permission in `wanted` on the vault's keys."""
    granted = {p.lower() for entry in vault["resource"]["properties"].get("accessPolicies") or []
               if str(entry.get("objectId", "")).lower() == object_id.lower()
               for p in (entry.get("permissions") or {}).get("keys") or []}
    return "all" in granted or {w.lower() for w in wanted} <= granted


ROUTES: tuple[Route, ...] = (
    route(r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.KeyVault/vaults/"
          r"(?P<vault>[^/]+)/accessPolicies/(?P<operation>[^/]+)", {"PUT": update_access_policy}),
)
