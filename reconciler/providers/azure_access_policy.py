"""Vault access policies (azure-mgmt-keyvault `vaults.update_access_policy`).

One handler object per (vault, principal): the entry of the vault's `accessPolicies` whose objectId
is the principal's. Reads report the key permissions as a mapping so the planner compares them as
a set; writes use operation kind `add`, which merges the permissions into the principal's entry,
never `replace`, which would drop permissions someone else gave the same principal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.core.errors import ProviderError
from reconciler.providers.azure_common import AzureSession, azure_errors
from reconciler.providers.azure_keyvault import forget_group, vault_in_group
from reconciler.providers.base import Capability, Live

PLANE = "arm"
KEYVAULT_CLIENT = "azure.mgmt.keyvault:KeyVaultManagementClient"
ADD = "add"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# KeyPermissions as ARM spells them; the portal and older clients store other cases.
KEY_PERMISSIONS = (
    "all", "encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify", "get", "list", "create", "update",
    "import", "delete", "backup", "restore", "recover", "purge", "release", "rotate", "getrotationpolicy",
    "setrotationpolicy",
)
_CANONICAL = {name.lower(): name for name in KEY_PERMISSIONS}


def canonical(permission: str) -> str:
    return _CANONICAL.get(permission.lower(), permission)


def permissions_live(entries: Iterable[Mapping[str, Any]], object_id: str) -> Live | None:
    """The kind's live shape for `object_id`'s entries (ARM may hold several), or None when it has none."""
    mine = [e for e in entries if str(e.get("objectId", "")).lower() == object_id.lower()]
    if not mine:
        return None
    granted = {canonical(p): True for e in mine for p in ((e.get("permissions") or {}).get("keys") or [])}
    return {"keyPermissions": dict(sorted(granted.items()))}


def add_parameters(tenant_id: str, object_id: str, permissions: Iterable[str]) -> dict[str, Any]:
    """The body of `PUT .../accessPolicies/add` in wire form."""
    entry = {"tenantId": tenant_id, "objectId": object_id, "permissions": {"keys": sorted(permissions)}}
    return {"properties": {"accessPolicies": [entry]}}


def _object_id(identity: Mapping[str, Any]) -> str:
    value = identity["objectId"]
    if not isinstance(value, str) or not _GUID.match(value):
        raise ProviderError(f"azure_access_policy: objectId {value!r} is not an object ID", plane=PLANE)
    return value


def _vault_identity(identity: Mapping[str, Any]) -> dict[str, Any]:
    return {"subscriptionId": identity["subscriptionId"], "resourceGroup": identity["resourceGroup"],
            "name": identity["vault"]}


class AccessPolicyHandler:
    kind = "azure_access_policy"
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, session: AzureSession) -> None:
        self._session = session

    def _client(self, identity: Mapping[str, Any]) -> Any:
        return self._session.client(KEYVAULT_CLIENT, self._session.check_subscription(identity["subscriptionId"]))

    def read(self, *, identity: Mapping[str, Any]) -> Live | None:
        if not isinstance(identity["objectId"], str):
            return None  # the principal does not exist yet (its ID is known only after apply)
        object_id = _object_id(identity)
        # The vault as its resource group's list gave it: the vault's own read already paid for it.
        vault = vault_in_group(self._session, _vault_identity(identity))
        if vault is None:
            return None
        entries = (vault.get("properties") or {}).get("accessPolicies") or []
        return permissions_live(entries, object_id)

    def create(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live:
        return self._add(identity, attributes)

    def update(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any], live: Mapping[str, Any]) -> Live:
        # Adding the declared permissions is enough: `add` merges, and permissions the manifest
        # does not name are not cmkctl's to remove.
        return self._add(identity, attributes)

    def _add(self, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live:
        object_id = _object_id(identity)
        wanted = [name for name, on in (attributes.get("keyPermissions") or {}).items() if on]
        body = add_parameters(identity["tenantId"], object_id, wanted)
        try:
            with azure_errors(f"add access policy for {object_id} on vault {identity['vault']}"):
                self._client(identity).vaults.update_access_policy(identity["resourceGroup"], identity["vault"],
                                                                   ADD, body)
        finally:
            forget_group(self._session, _vault_identity(identity))
        live = self.read(identity=identity)
        if live is None:
            raise ProviderError(f"vault {identity['vault']} does not list the access policy for {object_id} "
                                "after adding it", plane=PLANE)
        return live
