"""Mongo vCore's part of `cmkctl export`: `mongo:` of each cluster encrypted with an exported key."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from reconciler.plugins.base import ExportPart, ExportRegion, exported_key_name

# The key set's name for a key a service reads by URI, or None when that key was not exported.
KeyName = Callable[[str], "str | None"]


def export_azure(region: ExportRegion) -> ExportPart:
    return ExportPart(registrations=lambda skipped: list(_registrations(region, skipped)))


def _registrations(region: ExportRegion, skipped: list[str]) -> Iterable[dict[str, Any]]:
    for cluster in sorted(region.lists.mongo_clusters(region.region), key=lambda c: c["name"]):
        found = mongo_registration(cluster, lambda uri: exported_key_name(uri, region.keys), region.identities,
                                   skipped)
        if found is not None:
            yield found


def mongo_registration(cluster: Mapping[str, Any], key_name: KeyName, identities: Mapping[str, str],
                       skipped: list[str]) -> dict[str, Any] | None:
    """`mongo:` of a cluster encrypted with an exported key, read as an exported identity."""
    cmk = cluster.get("customerManagedKeyEncryption")
    if not cmk:
        skipped.append(f"Mongo vCore cluster {cluster['name']} (encrypted with a service-managed key, which is "
                       "fixed at creation: cmkctl manages customer-managed keys only)")
        return None
    key = key_name(str(cmk.get("keyEncryptionKeyUrl") or ""))
    identity_id = str((cmk.get("keyEncryptionKeyIdentity") or {}).get("userAssignedIdentityResourceId") or "")
    identity = identities.get(identity_id.rsplit("/", 1)[-1])
    if key is None or identity is None:
        skipped.append(f"Mongo vCore cluster {cluster['name']} (its key or identity is not in the exported regions)")
        return None
    return {"mongo": {"cluster": cluster["name"], "resourceGroup": cluster["resourceGroup"], "identity": identity,
                      "key": key}}
