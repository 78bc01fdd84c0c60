"""Azure built-in roles as Azure RBAC evaluates them: a role grants a data action when one of its
`dataActions` patterns matches it (a `*` standing for any text) and none of its `notDataActions` does.

The definitions are Azure's built-in role definitions (Microsoft Learn, "Azure built-in roles",
Security and Networking categories; the same JSON `az role definition list --name NAME` prints),
GUIDs and data actions copied as published. Only the roles a key set names are listed; an unknown
role grants nothing, as a role definition that does not exist would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class RoleDefinition:
    name: str
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()


BUILT_IN: dict[str, RoleDefinition] = {
    "e147488a-f6f5-4113-8e2d-b22465e65bf6": RoleDefinition(
        "Key Vault Crypto Service Encryption User",
        ("Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/wrap/action",
         "Microsoft.KeyVault/vaults/keys/unwrap/action")),
    "12338af0-0e69-4776-bea7-57ae8d297424": RoleDefinition(
        "Key Vault Crypto User",
        ("Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/update/action",
         "Microsoft.KeyVault/vaults/keys/backup/action", "Microsoft.KeyVault/vaults/keys/encrypt/action",
         "Microsoft.KeyVault/vaults/keys/decrypt/action", "Microsoft.KeyVault/vaults/keys/wrap/action",
         "Microsoft.KeyVault/vaults/keys/unwrap/action", "Microsoft.KeyVault/vaults/keys/sign/action",
         "Microsoft.KeyVault/vaults/keys/verify/action")),
    "14b46e9e-c2b7-41b4-b07b-48a6ebf60603": RoleDefinition(
        "Key Vault Crypto Officer",
        ("Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/keyrotationpolicies/*")),
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": RoleDefinition(
        "Key Vault Administrator", ("Microsoft.KeyVault/vaults/*",)),
    "21090545-7ca7-4776-b22c-e363652d74d2": RoleDefinition(
        "Key Vault Reader",
        ("Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action")),
    "4633458b-17de-408a-b874-0445c86b69e6": RoleDefinition(
        "Key Vault Secrets User",
        ("Microsoft.KeyVault/vaults/secrets/getSecret/action",
         "Microsoft.KeyVault/vaults/secrets/readMetadata/action")),
    # Control-plane actions only (Microsoft.Network/*): no data action at all.
    "4d97b98b-1d4f-4787-a291-c67834d212e7": RoleDefinition("Network Contributor"),
}
ROLE_NAMES = {guid: role.name for guid, role in BUILT_IN.items()}

# What a service does with a customer-managed key: read it, wrap and unwrap its data keys (the
# procedures' "get, wrapKey, unwrapKey" access-policy permissions, as RBAC data actions).
KEY_USE = ("Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/wrap/action",
           "Microsoft.KeyVault/vaults/keys/unwrap/action")


def _matches(pattern: str, action: str) -> bool:
    # Operation names are case-insensitive; `*` matches any text, slashes included.
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, action, re.IGNORECASE) is not None


def grants(role_guid: str, action: str) -> bool:
    role = BUILT_IN.get(role_guid.lower())
    if role is None:
        return False
    return any(_matches(p, action) for p in role.data_actions) and \
        not any(_matches(p, action) for p in role.not_data_actions)


def grants_key_use(role_guid: str) -> bool:
    """Whether the role lets a service read a key and wrap and unwrap with it."""
    return all(grants(role_guid, action) for action in KEY_USE)
