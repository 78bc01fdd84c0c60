"""world.yaml's `azure.cassandraClusters`: clusters (and their data centers) that exist already.

```yaml
azure:
  cassandraClusters:
    - {subscription*: SUB, resourceGroup*: rg, name*: c1, location*: eastus,
       delegatedManagementSubnetId*: /subscriptions/.../subnets/management,
       identity: None,                  # None (default) or SystemAssigned
       cassandraVersion: "4.0", tags: {},
       dataCenters: [{name*: dc1, dataCenterLocation*: eastus, delegatedSubnetId*: ..., nodeCount: 3,
                      sku: Standard_DS14_v2, managedDiskCustomerKeyUri: ..., backupStorageCustomerKeyUri: ...}]}
```

What exists is not checked against the deployment rules (a world may hold what cmkctl must fix).
"""

from __future__ import annotations

from typing import Any

from cmkctl_sandbox import cassandra
from cmkctl_sandbox.seed import Section, SeedProblem
from cmkctl_sandbox.wire import State

SECTIONS: dict[str, tuple[str, ...]] = {
    "azure.cassandraClusters": ("subscription", "resourceGroup", "name", "location", "delegatedManagementSubnetId",
                                "identity", "cassandraVersion", "tags", "dataCenters"),
    "azure.cassandraClusters.dataCenters": ("name", "dataCenterLocation", "delegatedSubnetId", "nodeCount", "sku",
                                            "managedDiskCustomerKeyUri", "backupStorageCustomerKeyUri"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "azure.cassandraClusters": ("subscription", "resourceGroup", "name", "location", "delegatedManagementSubnetId"),
    "azure.cassandraClusters.dataCenters": ("name", "dataCenterLocation", "delegatedSubnetId"),
}


def cassandra_clusters(state: State, azure: Section, astra: Section) -> None:
    for index, entry in enumerate(azure.get("cassandraClusters") or []):
        where = f"azure.cassandraClusters[{index}]"
        key = cassandra.cluster_key(str(entry["subscription"]), str(entry["resourceGroup"]), str(entry["name"]))
        if key in cassandra.clusters(state):
            raise SeedProblem(f"{where}.name", f"cluster {entry['name']!r} is declared twice")
        identity = entry.get("identity", "None")
        if identity not in cassandra.IDENTITY_TYPES:
            raise SeedProblem(f"{where}.identity", f"expected one of {', '.join(cassandra.IDENTITY_TYPES)}")
        record = _cluster_record(state, entry, str(identity))
        for dc in entry.get("dataCenters") or []:
            record["dataCenters"][str(dc["name"]).lower()] = cassandra.new_data_center(record, str(dc["name"]), dc)
        cassandra.clusters(state)[key] = record


def _cluster_record(state: State, entry: Section, identity: str) -> dict[str, Any]:
    given: dict[str, Any] = {k: entry[k] for k in ("delegatedManagementSubnetId", "cassandraVersion") if k in entry}
    resource = cassandra.new_cluster(str(entry["subscription"]), str(entry["resourceGroup"]), str(entry["name"]),
                                     str(entry["location"]), given, entry.get("tags"))
    cassandra.set_identity(state, resource, identity)
    return {"subscriptionId": str(entry["subscription"]), "resourceGroup": str(entry["resourceGroup"]),
            "resource": resource, "dataCenters": {}}
