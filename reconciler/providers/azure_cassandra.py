"""Managed Instance for Apache Cassandra clusters and data centers (azure-mgmt-cosmosdb).

Every write is a long-running operation, carried by the SDK's pollers (`begin_create_update`,
`begin_update`; azure_common translates one that ends Failed). A data center whose last operation
failed has not taken its keys: it is read without them, so a plan sends them again and a retried
create updates the data center an earlier attempt left (ARM's PUT and PATCH are idempotent). Bodies
are sent in wire form and responses read through `as_dict()`, so nothing SDK-shaped leaves this module.

The cluster's initial admin password is read from the environment variable the manifest names,
at the moment the cluster is created, and is sent nowhere else: not in the plan, not in an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from reconciler.core.errors import ProviderError
from reconciler.core.secrets import Secret
from reconciler.providers.azure_common import (
    AzureSession,
    GroupListing,
    azure_errors,
    listed,
    normalize_uri,
    sdk_errors,
    translate,
)
from reconciler.providers.base import Capability, Live, grant_awaited

PLANE = "arm"
COSMOSDB_CLIENT = "azure.mgmt.cosmosdb:CosmosDBManagementClient"
SYSTEM_ASSIGNED = "SystemAssigned"
SERVICE = "Managed Cassandra"

# Declared data-center attributes that go into `properties` as they are named.
DATA_CENTER_PROPERTIES = ("dataCenterLocation", "delegatedSubnetId", "nodeCount", "sku",
                          "managedDiskCustomerKeyUri", "backupStorageCustomerKeyUri")


def normal_location(location: str | None) -> str | None:
    """ARM answers "West US 2" where manifests say westus2."""
    return location.replace(" ", "").lower() if location else location


def _client(session: AzureSession, subscription_id: str) -> Any:
    return session.client(COSMOSDB_CLIENT, session.check_subscription(subscription_id))


def _is_not_found(e: Exception) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    return isinstance(e, ResourceNotFoundError)


# ---------------------------------------------------------------------------------------------
# clusters


def cluster_live(cluster: Mapping[str, Any]) -> Live:
    """A cluster in wire form -> the kind's attributes and outputs.

    `principalId` is present only when the cluster has its identity: the planner then knows the
    object ID; without it, what depends on the principal stays "known after apply".
    """
    props: Mapping[str, Any] = cluster.get("properties") or {}
    identity: Mapping[str, Any] = cluster.get("identity") or {}
    live: Live = {
        "location": normal_location(cluster.get("location")),
        "identityType": identity.get("type") or "None",
        "delegatedManagementSubnetId": props.get("delegatedManagementSubnetId"),
        "cassandraVersion": props.get("cassandraVersion"),
        "tags": dict(cluster.get("tags") or {}),
        "id": cluster.get("id"),
        "provisioningState": props.get("provisioningState"),
    }
    if identity.get("principalId"):
        live["principalId"] = identity["principalId"]
    return live


def initial_password(attributes: Mapping[str, Any], variables: Mapping[str, str]) -> Secret | None:
    """The password from the variable `initialAdminPasswordFrom` names; never its value in a message."""
    source = attributes.get("initialAdminPasswordFrom")
    if not source:
        return None
    name = source["env"]
    value = variables.get(name)
    if not value:
        raise ProviderError(f"cassandra_cluster: the environment variable {name} (initialAdminPasswordFrom) is not "
                            "set; it must hold the initial Cassandra admin password to create the cluster",
                            plane=PLANE)
    return Secret(value)


def cluster_create_body(attributes: Mapping[str, Any], password: Secret | None) -> dict[str, Any]:
    properties: dict[str, Any] = {"delegatedManagementSubnetId": attributes["delegatedManagementSubnetId"]}
    if attributes.get("cassandraVersion") is not None:
        properties["cassandraVersion"] = attributes["cassandraVersion"]
    if password is not None:
        properties["initialCassandraAdminPassword"] = password.reveal()
    return {
        "location": attributes["location"],
        "tags": dict(attributes.get("tags") or {}),
        "identity": {"type": attributes.get("identityType", SYSTEM_ASSIGNED)},
        "properties": properties,
    }


def cluster_patch_body(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """PATCH with only what changed; an identity alone is the procedure's `cluster update --identity-type`."""
    fixed = {"location", "delegatedManagementSubnetId"} & set(attributes)
    if fixed:
        raise ProviderError(f"cassandra_cluster: {', '.join(sorted(fixed))} cannot change on an existing cluster",
                            plane=PLANE)
    body: dict[str, Any] = {}
    if "identityType" in attributes:
        body["identity"] = {"type": attributes["identityType"]}
    if "cassandraVersion" in attributes:
        body["properties"] = {"cassandraVersion": attributes["cassandraVersion"]}
    return body


class ClusterHandler:
    kind = "cassandra_cluster"
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, session: AzureSession, variables: Mapping[str, str]) -> None:
        self._session = session
        self._variables = variables  # the run's environment, read by the front end: the password's variable
        self._listing = GroupListing(
            session, "Cassandra clusters",
            lambda sub, group: _client(session, sub).cassandra_clusters.list_by_resource_group(group))

    def read(self, *, identity: Mapping[str, Any]) -> Live | None:
        found = self._listing.find(identity["subscriptionId"], identity["resourceGroup"], identity["name"])
        return cluster_live(found.as_dict()) if found is not None else None

    def create(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live:
        body = cluster_create_body(attributes, initial_password(attributes, self._variables))
        client = _client(self._session, identity["subscriptionId"])
        with self._writing(identity), azure_errors(f"create Cassandra cluster {identity['name']}"):
            cluster = client.cassandra_clusters.begin_create_update(
                identity["resourceGroup"], identity["name"], body).result()
        return cluster_live(cluster.as_dict())

    def update(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any], live: Mapping[str, Any]) -> Live:
        client = _client(self._session, identity["subscriptionId"])
        with self._writing(identity), azure_errors(f"update Cassandra cluster {identity['name']}"):
            cluster = client.cassandra_clusters.begin_update(
                identity["resourceGroup"], identity["name"], cluster_patch_body(attributes)).result()
        return cluster_live(cluster.as_dict())

    def _writing(self, identity: Mapping[str, Any]) -> AbstractContextManager[None]:
        return self._listing.writing(identity["subscriptionId"], identity["resourceGroup"])


# ---------------------------------------------------------------------------------------------
# data centers


def data_center_live(data_center: Mapping[str, Any]) -> Live:
    props: Mapping[str, Any] = data_center.get("properties") or {}
    live: Live = {
        "dataCenterLocation": normal_location(props.get("dataCenterLocation")),
        "delegatedSubnetId": props.get("delegatedSubnetId"),
        "nodeCount": props.get("nodeCount"),
        "sku": props.get("sku"),
        "id": data_center.get("id"),
        "provisioningState": props.get("provisioningState"),
    }
    failed = props.get("provisioningState") == "Failed"
    for name in ("managedDiskCustomerKeyUri", "backupStorageCustomerKeyUri"):
        live[name] = normalize_uri(props[name]) if props.get(name) and not failed else None
    return live


def data_center_body(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {"properties": {name: attributes[name] for name in DATA_CENTER_PROPERTIES if name in attributes}}


def data_center_patch_body(attributes: Mapping[str, Any]) -> dict[str, Any]:
    fixed = {"dataCenterLocation", "delegatedSubnetId"} & set(attributes)
    if fixed:
        raise ProviderError(f"cassandra_data_center: {', '.join(sorted(fixed))} cannot change on an existing "
                            "data center", plane=PLANE)
    return data_center_body(attributes)


class DataCenterHandler:
    kind = "cassandra_data_center"
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, session: AzureSession) -> None:
        self._session = session

    def read(self, *, identity: Mapping[str, Any]) -> Live | None:
        client = _client(self._session, identity["subscriptionId"])
        try:
            data_center = client.cassandra_data_centers.get(identity["resourceGroup"], identity["cluster"],
                                                            identity["name"])
        except sdk_errors() as e:
            if _is_not_found(e):
                return None
            raise translate(e, f"read Cassandra data center {identity['cluster']}/{identity['name']}") from e
        return data_center_live(data_center.as_dict())

    def create(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live:
        return self._put(identity, data_center_body(attributes), "create")

    def update(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any], live: Mapping[str, Any]) -> Live:
        # The procedure's "Rotate the key" is this update: new versioned URIs, nothing else.
        client = _client(self._session, identity["subscriptionId"])
        with grant_awaited(attributes.get("managedDiskCustomerKeyUri"), SERVICE), \
                azure_errors(f"update Cassandra data center {identity['cluster']}/{identity['name']}"):
            data_center = client.cassandra_data_centers.begin_update(
                identity["resourceGroup"], identity["cluster"], identity["name"],
                data_center_patch_body(attributes)).result()
        return data_center_live(data_center.as_dict())

    def _put(self, identity: Mapping[str, Any], body: dict[str, Any], verb: str) -> Live:
        client = _client(self._session, identity["subscriptionId"])
        key = ((body.get("properties") or {}).get("managedDiskCustomerKeyUri"))
        with grant_awaited(key, SERVICE), \
                azure_errors(f"{verb} Cassandra data center {identity['cluster']}/{identity['name']}"):
            data_center = client.cassandra_data_centers.begin_create_update(
                identity["resourceGroup"], identity["cluster"], identity["name"], body).result()
        return data_center_live(data_center.as_dict())


def clusters_in(session: AzureSession, subscription: str, location: str) -> list[dict[str, Any]]:
    """Cassandra clusters of the subscription in `location`, each with its data centers (the input of
    an export)."""
    found = listed(session, subscription, COSMOSDB_CLIENT, "Cassandra clusters",
                   lambda c: c.cassandra_clusters.list_by_subscription())
    return [{**live, "name": c["name"], "resourceGroup": c["id"].split("/")[4],
             "dataCenters": _data_centers(session, subscription, c["id"].split("/")[4], c["name"])}
            for c in found if (live := cluster_live(c))["location"] == normal_location(location)]


def _data_centers(session: AzureSession, subscription: str, resource_group: str, cluster: str) -> list[dict[str, Any]]:
    found = listed(session, subscription, COSMOSDB_CLIENT, f"data centers of Cassandra cluster {cluster}",
                   lambda c: c.cassandra_data_centers.list(resource_group, cluster))
    return [{**data_center_live(d), "name": d["name"]} for d in found]
