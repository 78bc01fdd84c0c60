"""What Confluent checks before it calls an Azure key usable: the sandbox looks at its own ARM and Graph.

Each check returns the reason the key is unusable, or "" when it passes; the first reason found is
what the key's validation (and a refused cluster) reports. Confluent cannot tell a missing service
principal or role from a refused call to Key Vault: both are its "Access to key denied.".
"""

from __future__ import annotations

import re
from typing import Any

from cmkctl_sandbox import graph
from cmkctl_sandbox.rbac import normal_scope, role_guid
from cmkctl_sandbox.vaults import find_vault
from cmkctl_sandbox.wire import State

ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
READER = "21090545-7ca7-4776-b22c-e363652d74d2"
REQUIRED_ROLES = {ENCRYPTION_USER: "Key Vault Crypto Service Encryption User", READER: "Key Vault Reader"}
RSA_TYPES = ("RSA", "RSA-HSM")
# The message byok/v1 gives as its example of a validation's (`byok.v1.KeyValidation.message`).
ACCESS_DENIED = "Access to key denied."

KEY_URI = re.compile(r"^https://(?P<vault>[a-zA-Z0-9-]{3,24})\.vault\.azure\.net(:443)?/keys/(?P<key>[a-zA-Z0-9-]{1,127})/?$")
VERSIONED_KEY_URI = re.compile(r"^https://[a-zA-Z0-9-]{3,24}\.vault\.azure\.net(:443)?/keys/[a-zA-Z0-9-]{1,127}/[^/]+/?$")
VAULT_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.KeyVault/vaults/(?P<vault>[^/]+)/?$",
    re.IGNORECASE,
)


def vault_of(state: State, key_vault_id: str) -> dict[str, Any] | None:
    match = VAULT_ID.match(key_vault_id)
    record = find_vault(state, match["vault"]) if match else None
    if record is None or match is None:
        return None
    same_group = (record["subscriptionId"].lower(), record["resourceGroup"].lower()) == (
        match["sub"].lower(), match["rg"].lower())
    return record if same_group else None


def vault_region(state: State, key_vault_id: str) -> str:
    record = vault_of(state, key_vault_id)
    return str(record["resource"]["location"]).lower() if record else ""


def problem(state: State, key: dict[str, Any], cluster_region: str = "") -> str:
    """Why Confluent cannot use the Azure key `key` (a BYOK key's `key` object), or ""."""
    record = vault_of(state, key["key_vault_id"])
    if record is None:
        return f"Azure Key Vault {key['key_vault_id']} was not found or is not accessible"
    for check in (_vault_settings(record), _key_itself(record, key), _grants(state, record, key),
                  _region(record, cluster_region)):
        if check:
            return check
    return ""


def _vault_settings(record: dict[str, Any]) -> str:
    properties = record["resource"]["properties"]
    name = record["resource"]["name"]
    if not properties.get("enablePurgeProtection"):
        return f"Azure Key Vault {name} does not have purge protection enabled"
    if not properties.get("enableRbacAuthorization"):
        return f"Azure Key Vault {name} does not use Azure RBAC authorization"
    acls = properties.get("networkAcls") or {}
    if acls.get("defaultAction") == "Deny" and acls.get("bypass") != "AzureServices":
        return f"the firewall of Azure Key Vault {name} does not allow trusted Microsoft services"
    return ""


def _key_itself(record: dict[str, Any], key: dict[str, Any]) -> str:
    match = KEY_URI.match(key["key_id"])
    name = record["resource"]["name"]
    if match is None or match["vault"].lower() != name.lower():
        return f"key {key['key_id']} is not a key of Azure Key Vault {name}"
    stored = record["keys"].get(match["key"].lower())
    if stored is None:
        return f"key {key['key_id']} was not found"
    if stored["kty"] not in RSA_TYPES:
        return f"key {key['key_id']} is {stored['kty']}; an RSA or RSA-HSM key is required"
    if not stored["attributes"].get("enabled", True):
        return f"key {key['key_id']} is disabled"
    return ""


def _grants(state: State, record: dict[str, Any], key: dict[str, Any]) -> str:
    """Both roles Confluent's procedure names, held by the service principal of Confluent's application."""
    principal = graph.by_app_id(state, key.get("application_id", ""))
    if principal is None:
        return ACCESS_DENIED
    vault_scope = normal_scope(record["resource"]["id"])
    key_scope = f"{vault_scope}/keys/{key['key_id'].rstrip('/').rsplit('/', 1)[-1].lower()}"
    held = {
        (role_guid(a["roleDefinitionId"]), normal_scope(a["scope"]))
        for a in state["arm"]["roleAssignments"].values()
        if a["principalId"].lower() == principal["id"].lower()
    }
    for guid in REQUIRED_ROLES:
        scopes = {vault_scope, key_scope} if guid == ENCRYPTION_USER else {vault_scope}
        if not any((guid, scope) in held for scope in scopes):
            return ACCESS_DENIED
    return ""


def _region(record: dict[str, Any], cluster_region: str) -> str:
    location = str(record["resource"]["location"]).lower()
    if cluster_region and location != cluster_region.lower():
        return f"the key is in region {location} but the cluster is in {cluster_region}; they must be in the " \
               "same region"
    return ""
