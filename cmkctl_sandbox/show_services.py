"""The services' part of `cmkctl sandbox show`: identities, Cassandra, Mongo vCore, Confluent."""

from __future__ import annotations

from typing import Any

from cmkctl_sandbox.wire import State


def identities(state: State) -> list[str]:
    found = state["arm"].get("userAssignedIdentities") or {}
    lines = ["  user-assigned identities:" if found else "  user-assigned identities: none"]
    for record in found.values():
        props = record["properties"]
        lines.append(f"    {record['name']}  ({record['location']})  principal {props['principalId']}")
    return lines


def access_policies(state: State) -> list[str]:
    lines = []
    for record in state["arm"]["vaults"].values():
        for policy in record["resource"]["properties"].get("accessPolicies") or []:
            keys = ", ".join(sorted(policy.get("permissions", {}).get("keys", [])))
            lines.append(f"    {record['resource']['name']}: {policy['objectId']} keys [{keys}]")
    return ["  vault access policies:", *lines] if lines else ["  vault access policies: none"]


def cassandra(state: State) -> list[str]:
    clusters = state["arm"].get("cassandraClusters") or {}
    lines = ["  Cassandra managed instances:" if clusters else "  Cassandra managed instances: none"]
    for record in clusters.values():
        resource = record["resource"]
        identity = resource.get("identity") or {}
        lines.append(f"    {resource['name']}  ({resource['location']})  identity {identity.get('type', 'None')} "
                     f"{identity.get('principalId', '')}".rstrip())
        for center in (record.get("dataCenters") or {}).values():
            props = center["properties"]
            lines.append(f"      data center {center['name']}  {props.get('nodeCount')} nodes  "
                         f"disk key {props.get('managedDiskCustomerKeyUri')}")
            lines.append(f"        backup key {props.get('backupStorageCustomerKeyUri')}")
    return lines


def mongo(state: State) -> list[str]:
    clusters = state["arm"].get("mongoClusters") or {}
    lines = ["  Mongo vCore clusters:" if clusters else "  Mongo vCore clusters: none"]
    for record in clusters.values():
        cmk = ((record["properties"].get("encryption") or {}).get("customerManagedKeyEncryption") or {})
        identity = (cmk.get("keyEncryptionKeyIdentity") or {}).get("userAssignedIdentityResourceId", "")
        mode = "customer-managed key" if cmk else "service-managed key"
        lines.append(f"    {record['name']}  ({record['location']})  {mode}")
        if cmk:
            lines.append(f"      key {cmk.get('keyEncryptionKeyUrl')}  identity {identity.rsplit('/', 1)[-1]}")
    return lines


def confluent(state: State) -> list[str]:
    section: dict[str, Any] = state.get("confluent") or {}
    keys, clusters = section.get("keys") or {}, section.get("clusters") or {}
    lines = ["Confluent Cloud", "  BYOK keys:" if keys else "  BYOK keys: none"]
    for entry in keys.values():
        key = entry["key"]
        validation = (entry.get("validation") or {}).get("phase", "")
        held = (f"{key['key_arn']}  roles {', '.join(key.get('roles') or [])}" if "key_arn" in key
                else f"{key['key_id']}  application {key['application_id']}")
        lines.append(f"    {entry['id']}  {held}  {entry.get('state', '')} {validation}".rstrip())
    lines.append("  Dedicated clusters:" if clusters else "  Dedicated clusters: none")
    for entry in clusters.values():
        spec = entry["spec"]
        lines.append(f"    {entry['id']}  {spec['display_name']}  ({spec['region']})  "
                     f"byok {(spec.get('byok') or {}).get('id', 'none')}")
    return lines
