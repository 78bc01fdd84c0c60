"""Cassandra's part of `cmkctl export`: `cassandra:` of each cluster whose data centers use exported keys.

Read from the kind's own live shape (the provider's `*_live`), so that what export writes is what the
next plan compares: an exported object plans as no change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.manifest.keyref import KEY_IDENTIFIER
from reconciler.plugins.base import ExportedKeys as Keys
from reconciler.plugins.base import ExportPart, ExportRegion


def export_azure(region: ExportRegion) -> ExportPart:
    clusters = sorted(region.lists.cassandra_clusters(region.region), key=lambda c: c["name"])
    return ExportPart(
        principals={c["principalId"]: {"cassandraCluster": c["name"]} for c in clusters if c.get("principalId")},
        registrations=lambda skipped: [r for c in clusters if (r := cassandra_registration(c, region.keys, skipped))],
    )


def cassandra_registration(cluster: Mapping[str, Any], keys: Keys, skipped: list[str]) -> dict[str, Any] | None:
    """`cassandra:` of a cluster whose data centers use exported keys; versions pinned only where they are."""
    centers = sorted(cluster.get("dataCenters") or [], key=lambda d: d["name"])
    disk = {uri for d in centers if (uri := _versioned(keys, d.get("managedDiskCustomerKeyUri")))}
    backup = {uri for d in centers if (uri := _versioned(keys, d.get("backupStorageCustomerKeyUri")))}
    if not centers or len({name for name, _ in disk}) != 1 or len({name for name, _ in backup}) != 1:
        skipped.append(f"Cassandra cluster {cluster['name']} (its data centers do not all use one exported key)")
        return None
    (key, _), (backup_key, _) = next(iter(disk)), next(iter(backup))
    entry: dict[str, Any] = {"cluster": cluster["name"], "resourceGroup": cluster["resourceGroup"],
                             "delegatedManagementSubnetId": cluster["delegatedManagementSubnetId"]}
    if cluster.get("cassandraVersion"):
        entry["cassandraVersion"] = cluster["cassandraVersion"]
    entry["key"] = key
    if backup_key != key:
        entry["backupKey"] = backup_key
    entry["dataCenters"] = [_data_center(keys, center, key == backup_key) for center in centers]
    return {"cassandra": entry}


def _data_center(keys: Keys, center: Mapping[str, Any], same_key: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": center["name"], "nodeCount": center["nodeCount"]}
    if center.get("sku"):
        entry["sku"] = center["sku"]
    entry["delegatedSubnetId"] = center["delegatedSubnetId"]
    _, disk = _versioned(keys, center["managedDiskCustomerKeyUri"]) or ("", None)
    _, backup = _versioned(keys, center["backupStorageCustomerKeyUri"]) or ("", None)
    if disk is not None:
        entry["keyVersion"] = disk
    # Unsaid, the backup follows keyVersion when it is the disk key, else the latest version.
    if backup != (disk if same_key else None):
        entry["backupKeyVersion"] = backup or "latest"
    return entry


def _versioned(keys: Keys, uri: Any) -> tuple[str, str | None] | None:
    """(key name, the version when it is not the key's current one) of an exported key's versioned URI."""
    match = KEY_IDENTIFIER.match(str(uri or ""))
    found = next((k for k in keys.get(match["vault"], []) if k["name"] == match["key"]), None) if match else None
    if match is None or found is None:
        return None
    current = str(found.get("keyUriWithVersion") or "").rstrip("/").rsplit("/", 1)[-1]
    return found["name"], None if match["version"] == current else match["version"]
