"""How the core and every system name the objects they declare, and the tags cmkctl puts on them.

A leaf: the expansion and each system import it, so neither has to import the other for a name.
"""

from __future__ import annotations

from reconciler.manifest.model import KeySet

MANAGED_BY = "cmkctl"


def tags(key_set: KeySet) -> dict[str, str]:
    return {"managed-by": MANAGED_BY, "cmkctl-set": key_set.name}


def vault_address(region: str, vault: str) -> str:
    return f"azure_vault.{region}.{vault}"


def key_address(region: str, vault: str, key: str) -> str:
    return f"azure_key.{region}.{vault}/{key}"


def vault_scope(subscription: str, resource_group: str, vault: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.KeyVault/vaults/{vault}"
