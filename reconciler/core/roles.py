"""Built-in Azure roles cmkctl assigns, by the name users write in manifests."""

from __future__ import annotations

import re

BUILT_IN_ROLES: dict[str, str] = {
    "Key Vault Crypto Service Encryption User": "e147488a-f6f5-4113-8e2d-b22465e65bf6",
    "Key Vault Reader": "21090545-7ca7-4776-b22c-e363652d74d2",
    "Key Vault Crypto User": "12338af0-0e69-4776-bea7-57ae8d297424",
    "Key Vault Crypto Officer": "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
    "Network Contributor": "4d97b98b-1d4f-4787-a291-c67834d212e7",
}
CRYPTO_SERVICE_ENCRYPTION_USER = "Key Vault Crypto Service Encryption User"

_GUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")


def role_guid(name_or_guid: str) -> str | None:
    """The role definition GUID for a built-in role name, or the GUID itself."""
    if _GUID.match(name_or_guid):
        return name_or_guid.lower()
    return BUILT_IN_ROLES.get(name_or_guid)


def role_name(guid: str) -> str:
    for name, known in BUILT_IN_ROLES.items():
        if known == guid.lower():
            return name
    return guid


def role_definition_id(subscription_id: str, guid: str) -> str:
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


# Roles whose data actions include get, wrapKey and unwrapKey on keys: what a service needs to
# wrap its data keys. Crypto Service Encryption User is the one to grant; the others also suffice.
KEY_USE_ROLES = frozenset({
    "e147488a-f6f5-4113-8e2d-b22465e65bf6",  # Key Vault Crypto Service Encryption User
    "12338af0-0e69-4776-bea7-57ae8d297424",  # Key Vault Crypto User
    "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",  # Key Vault Crypto Officer
    "00482a5a-887f-4fb3-b363-3b7fe8e74483",  # Key Vault Administrator
})
# The same, as vault access-policy key permissions.
KEY_USE_PERMISSIONS = ("get", "wrapKey", "unwrapKey")


def permits_key_use(permissions: tuple[str, ...] | list[str]) -> bool:
    return "all" in permissions or set(KEY_USE_PERMISSIONS) <= set(permissions)
