"""Who may call Key Vault's data plane: the vault's firewall, then its permission model.

Key Vault refuses a caller outside a vault's network rules 403 `ForbiddenByFirewall` ("Client address
is not authorized and caller is not a trusted service", as terraform-provider-azurerm#20742 and #4553,
and hashicorp/packer-plugin-azure#384 quote it), whatever its permissions; then, on a vault using
Azure RBAC, a caller without a role whose data actions cover the operation 403 `ForbiddenByRbac`, and
on a vault using access policies, a caller without a policy granting the permission 403 `Forbidden`
(inner code `AccessDenied`). Error envelope: `{"error": {"code": "Forbidden", "message", "innererror":
{"code"}}}`, the data plane's `KeyVaultError`.

The caller is the principal behind the token (its `oid` claim, credentials.py: the emulator's
issued credential always speaks for `ids.CALLER_OBJECT_ID`). Its roles are its
role assignments at or above the vault or the key (rbac.py's state) and the roles the world gives it
above every subscription (`caller.roles`, world.yaml `azure.caller`); its access policy is the vault's
entry for its object ID. The emulator serves on loopback: the caller is inside a vault's rules when
the vault's IP rules allow 127.0.0.1, or when the world says so (`caller.inside`).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from cmkctl_sandbox.ids import CALLER_OBJECT_ID
from cmkctl_sandbox.rbac import normal_scope, role_guid
from cmkctl_sandbox.roles import BUILT_IN, grants
from cmkctl_sandbox.wire import Refusal, Reply, State

# The data actions and access-policy key permissions of the operations the emulator serves (Azure
# resource provider operations, Microsoft.KeyVault: "Retrieves the rotation policy of a given key").
READ_POLICY = ("Microsoft.KeyVault/vaults/keyrotationpolicies/read", "getrotationpolicy")
WRITE_POLICY = ("Microsoft.KeyVault/vaults/keyrotationpolicies/write", "setrotationpolicy")
READ_KEY = ("Microsoft.KeyVault/vaults/keys/read", "get")
# The emulator's clients connect from loopback.
CALLER_ADDRESS = ipaddress.ip_address("127.0.0.1")
# What a new world says of the caller: outside every firewall, Key Vault Crypto Officer above every
# subscription (a management-group assignment), so a default run reads and writes rotation policies.
DEFAULT_CALLER = {"objectId": CALLER_OBJECT_ID, "inside": False, "roles": ["Key Vault Crypto Officer"]}


def caller_section(state: State) -> dict[str, Any]:
    found: dict[str, Any] = state.get("caller") or DEFAULT_CALLER
    return found


def check(state: State, vault: dict[str, Any], key: str, operation: tuple[str, str], object_id: str) -> None:
    """Refuse the call as Key Vault would, or return."""
    resource = vault["resource"]
    properties = resource["properties"]
    where = f"{resource['name']};location={resource['location']}"
    caller = f"appid={object_id};oid={object_id};iss=https://sts.windows.net/{properties['tenantId']}/"
    if not _inside(state, properties.get("networkAcls") or {}):
        raise _forbidden("ForbiddenByFirewall", "Client address is not authorized and caller is not a trusted "
                         f"service.\r\nClient address: {CALLER_ADDRESS}\r\nCaller: {caller}\r\nVault: {where}")
    action, permission = operation
    if properties.get("enableRbacAuthorization"):
        if not _role_allows(state, resource["id"], key, object_id, action):
            raise _forbidden("ForbiddenByRbac", "Caller is not authorized to perform action on resource.\r\nIf role "
                             "assignments, deny assignments or role definitions were changed recently, please observe "
                             f"propagation time.\r\nCaller: {caller}\r\nAction: '{action}'\r\nResource: "
                             f"'{resource['id'].lower()}/keys/{key.lower()}'\r\nAssignment: (not found)\r\n"
                             f"Vault: {where}")
    elif not _policy_allows(properties.get("accessPolicies") or [], object_id, permission):
        raise _forbidden("AccessDenied", f"The user, group or application '{caller}' does not have keys {permission} "
                         f"permission on key vault '{where}'. For help resolving this issue, please see "
                         "https://go.microsoft.com/fwlink/?linkid=2125287", code="Forbidden")


def _forbidden(inner: str, message: str, code: str = "Forbidden") -> Refusal:
    return Refusal(Reply(403, {"error": {"code": code, "message": message, "innererror": {"code": inner}}}))


def _inside(state: State, acls: dict[str, Any]) -> bool:
    if str(acls.get("defaultAction", "Allow")).lower() != "deny" or caller_section(state).get("inside"):
        return True
    for rule in acls.get("ipRules") or []:
        try:
            if CALLER_ADDRESS in ipaddress.ip_network(str(rule.get("value", "")), strict=False):
                return True
        except ValueError:
            continue
    return False


def _role_allows(state: State, vault_id: str, key: str, object_id: str, action: str) -> bool:
    everywhere = {guid for guid, role in BUILT_IN.items() if role.name in caller_section(state).get("roles", [])}
    if any(grants(guid, action) for guid in everywhere):
        return True
    key_scope = normal_scope(f"{vault_id}/keys/{key}")
    for record in state["arm"]["roleAssignments"].values():
        scope = normal_scope(record["scope"])
        above = key_scope == scope or key_scope.startswith(scope + "/")
        if above and record["principalId"].lower() == object_id.lower() and \
                grants(role_guid(record["roleDefinitionId"]), action):
            return True
    return False


def _policy_allows(policies: list[dict[str, Any]], object_id: str, permission: str) -> bool:
    for policy in policies:
        if str(policy.get("objectId", "")).lower() == object_id.lower():
            held = {p.lower() for p in (policy.get("permissions") or {}).get("keys") or []}
            if permission in held or "all" in held:
                return True
    return False
