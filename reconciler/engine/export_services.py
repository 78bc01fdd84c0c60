"""The services' part of `cmkctl export`: Cassandra and Mongo vCore clusters, Confluent Dedicated
clusters, and AWS KMS keys with their Astra registrations, each written as the manifest declares it.

Each reads only what the inventory listed, in the kinds' own shapes (the providers' `*_live`), so
that what export writes is what the next plan compares: an exported object plans as no change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from reconciler.core import kms_policy
from reconciler.manifest.keyref import KEY_IDENTIFIER

Keys = Mapping[str, list[dict[str, Any]]]
# The key set's name for a key a service reads by URI, or None when that key was not exported.
KeyName = Callable[[str], "str | None"]


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


def confluent_cluster(clusters: Iterable[Mapping[str, Any]], byok_id: str | None) -> dict[str, Any] | None:
    """`cluster:` of the Dedicated cluster encrypted with the BYOK key `byok_id`, if there is one."""
    found = next((c for c in clusters if byok_id and c.get("byokKeyId") == byok_id and c.get("kind") == "Dedicated"),
                 None)
    if found is None:
        return None
    entry: dict[str, Any] = {"name": found["name"], "availability": found["availability"], "cku": found["cku"]}
    if found.get("network"):
        entry["network"] = found["network"]
    return entry


# ---------------------------------------------------------------------------------------------
# AWS


def kms_keys(keys: Sequence[Mapping[str, Any]], account_id: str, products: Mapping[str, set[str]],
             skipped: list[str]) -> list[dict[str, Any]]:
    """The KMS keys as the manifest declares them; `products` maps an Astra provider ID to its products."""
    return [_kms_key(key, account_id, products, skipped) for key in sorted(keys, key=lambda k: k["alias"])]


def _kms_key(key: Mapping[str, Any], account_id: str, products: Mapping[str, set[str]],
             skipped: list[str]) -> dict[str, Any]:
    statements = _exportable(key["alias"], kms_policy.parse(key["policyDocument"])["Statement"], skipped)
    external = next((s for s in statements if s.get("Sid") == kms_policy.EXTERNAL_SID), None)
    allow = _allowed(external, products)
    entry: dict[str, Any] = {"alias": key["alias"], "description": key.get("description") or "",
                             "rotation": bool(key["enableKeyRotation"])}
    owners = [kms_policy.plain(s["Sid"], kms_policy.canonical(s)) for s in statements
              if s.get("Sid") and s["Sid"] not in kms_policy.RESERVED_SIDS and not _default_root(s, account_id)]
    policy: dict[str, Any] = {}
    if allow:
        policy["allow"] = allow
    if owners:
        policy["statements"] = owners
    if policy:
        entry["policy"] = policy
    return entry


def _exportable(alias: str, statements: Sequence[Mapping[str, Any]], skipped: list[str]) -> list[Mapping[str, Any]]:
    """The statements a manifest can declare; the others stay in the key's policy, as the plan keeps them."""
    kept = []
    for statement in statements:
        why = kms_policy.unexportable(statement) if statement.get("Sid") else None
        if why is None:
            kept.append(statement)
        else:
            skipped.append(f"{alias}: the key policy statement {statement.get('Sid')!r} ({why}); it stays in the "
                           "key's policy, which cmkctl keeps")
    return kept


def _default_root(statement: Mapping[str, Any], account_id: str) -> bool:
    root = kms_policy.required_statements(account_id, [])[0]
    return statement.get("Sid") == kms_policy.ROOT_SID and kms_policy.canonical(statement) == kms_policy.canonical(root)


def _allowed(external: Mapping[str, Any] | None, products: Mapping[str, set[str]]) -> list[dict[str, str]]:
    principals = (external or {}).get("Principal", {}).get("AWS", [])
    found: list[dict[str, str]] = []
    for arn in [principals] if isinstance(principals, str) else principals:
        account = str(arn).split(":")[4] if str(arn).count(":") >= 5 else ""
        named = ([{"astra": p} for p in sorted(products[account])]
                 if arn == kms_policy.astra_creator_arn(account) and account in products else [{"aws": str(arn)}])
        found += [n for n in named if n not in found]
    return found


def aws_registrations(entries: Mapping[str, list[dict[str, Any]]], region: str,
                      aliases: Mapping[str, str], skipped: list[str]) -> list[dict[str, Any]]:
    """`astra:` registrations of the region's exported keys; `entries` are Astra's lists, by product."""
    found = []
    for product, listed in entries.items():
        for entry in listed:
            fields = {k.lower(): v for k, v in entry.items()}
            if str(fields.get("cloudprovider", "")).lower() != "aws" or fields.get("region") != region:
                continue
            alias = aliases.get(str(fields.get("keyid", "")))
            if alias is None:
                skipped.append(f"Astra {product} key {fields.get('keyid')} in {region} (it has no alias to declare "
                               "it by)")
                continue
            found.append({"astra": {"product": product, "key": alias}})
    return found
