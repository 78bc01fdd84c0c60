"""What already exists, listed rather than read one by one: the input of `cmkctl export`.

Everything leaves as plain dicts in the kinds' wire names; SDK models stay here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from reconciler.core.errors import CmkError
from reconciler.providers.astra import AstraClient
from reconciler.providers.aws_kms import AwsSession, KmsKeyHandler
from reconciler.providers.aws_kms import call as aws_call
from reconciler.providers.azure_access_policy import canonical
from reconciler.providers.azure_authorization import AUTHORIZATION_CLIENT, role_guid, same_scope
from reconciler.providers.azure_cassandra import COSMOSDB_CLIENT, data_center_live
from reconciler.providers.azure_cassandra import cluster_live as cassandra_cluster_live
from reconciler.providers.azure_common import AzureSession, sdk_errors, translate
from reconciler.providers.azure_keyvault import KEYVAULT_CLIENT, subscription_vaults_key, vault_keys, vault_live
from reconciler.providers.azure_mongo import MONGO_CLIENT
from reconciler.providers.azure_mongo import cluster_live as mongo_cluster_live
from reconciler.providers.azure_msi import MSI_CLIENT, normal_location
from reconciler.providers.base import Connection
from reconciler.providers.confluent import ConfluentClient
from reconciler.providers.confluent import cluster_live as confluent_cluster_live
from reconciler.providers.graph import GraphClient
from reconciler.providers.https import json_body
from reconciler.providers.paths import resource_id, segment
from reconciler.providers.plumbing import plane_http
from reconciler.providers.registry import Clients


class Inventory:
    def __init__(self, session: AzureSession, graph: GraphClient, astra: AstraClient, confluent: ConfluentClient,
                 subscription_id: str, aws: AwsSession | None = None) -> None:
        self._session = session
        self._aws = aws
        self._graph = graph
        self.astra = astra
        self._confluent = confluent
        self._subscription = subscription_id

    def _client(self, name: str) -> Any:
        return self._session.client(name, self._subscription)

    def all_vaults(self) -> list[dict[str, Any]]:
        """Every vault of the subscription, with its resource group and name; listed once per run."""
        return self._session.lists.get(subscription_vaults_key(self._subscription), self._list_vaults)

    def _list_vaults(self) -> list[dict[str, Any]]:
        try:
            listed = self._client(KEYVAULT_CLIENT).vaults.list_by_subscription()
            found = [v.as_dict() for v in listed]
        except sdk_errors() as e:
            raise translate(e, "list the subscription's vaults") from e
        return [{**vault_live(v), "name": v["name"], "resourceGroup": v["id"].split("/")[4],
                 "accessPolicies": _access_policies(v)} for v in found]

    def identities(self, location: str) -> list[dict[str, Any]]:
        """User-assigned identities of the subscription in `location`, with their principal's object ID."""
        try:
            found = list(self._client(MSI_CLIENT).user_assigned_identities.list_by_subscription())
        except sdk_errors() as e:
            raise translate(e, "list the subscription's user-assigned identities") from e
        return [{"name": i.name, "resourceGroup": i.id.split("/")[4], "principalId": i.principal_id}
                for i in found if normal_location(i.location) == normal_location(location)]

    def vaults(self, location: str) -> list[dict[str, Any]]:
        """Vaults of the subscription in `location`."""
        return [v for v in self.all_vaults() if str(v.get("location", "")).lower() == location.lower()]

    def keys(self, resource_group: str, vault: str) -> list[dict[str, Any]]:
        return vault_keys(self._session, self._subscription, resource_group, vault)

    def role_assignments(self, scope: str) -> list[dict[str, Any]]:
        """Assignments made at `scope` itself, not inherited from above it."""
        try:
            client = self._client(AUTHORIZATION_CLIENT)
            found = list(client.role_assignments.list_for_scope(resource_id(scope, "scope", plane="arm"),
                                                                filter="atScope()"))
        except sdk_errors() as e:
            raise translate(e, f"list role assignments on {scope}") from e
        return [{"role": role_guid(a.role_definition_id), "principalId": a.principal_id,
                 "principalType": a.principal_type} for a in found if same_scope(a.scope or "", scope)]

    def mongo_clusters(self, location: str) -> list[dict[str, Any]]:
        """Mongo vCore clusters of the subscription in `location`, as the kind reads them, with name and group."""
        listed = self._listed(MONGO_CLIENT, "Mongo vCore clusters", lambda c: c.mongo_clusters.list())
        return [{**live, "name": c["name"], "resourceGroup": c["id"].split("/")[4]}
                for c in listed if (live := mongo_cluster_live(c))["location"] == normal_location(location)]

    def cassandra_clusters(self, location: str) -> list[dict[str, Any]]:
        """Cassandra clusters of the subscription in `location`, each with its data centers."""
        listed = self._listed(COSMOSDB_CLIENT, "Cassandra clusters",
                              lambda c: c.cassandra_clusters.list_by_subscription())
        return [{**live, "name": c["name"], "resourceGroup": c["id"].split("/")[4],
                 "dataCenters": self._data_centers(c["id"].split("/")[4], c["name"])}
                for c in listed if (live := cassandra_cluster_live(c))["location"] == normal_location(location)]

    def _data_centers(self, resource_group: str, cluster: str) -> list[dict[str, Any]]:
        listed = self._listed(COSMOSDB_CLIENT, f"data centers of Cassandra cluster {cluster}",
                              lambda c: c.cassandra_data_centers.list(resource_group, cluster))
        return [{**data_center_live(d), "name": d["name"]} for d in listed]

    def _listed(self, client: str, what: str, listing: Callable[[Any], Iterable[Any]]) -> list[dict[str, Any]]:
        try:
            return [item.as_dict() for item in listing(self._client(client))]
        except sdk_errors() as e:
            raise translate(e, f"list the subscription's {what}") from e

    def confluent_clusters(self, environment: str) -> list[dict[str, Any]]:
        """The environment's Kafka clusters as the kind reads them, with their display names."""
        return [{**confluent_cluster_live(c), "name": (c.get("spec") or {}).get("display_name")}
                for c in self._confluent.clusters(environment)]

    def kms_keys(self, region: str) -> list[dict[str, Any]]:
        """The customer keys of an AWS region that have an alias (the manifest's name for a key), as the kind
        reads them: description, rotation, the policy's statements by Sid."""
        if self._aws is None:
            raise CmkError(f"cannot export {region}: this run has no AWS plane")
        client, handler = self._aws.kms(region), KmsKeyHandler(self._aws)
        paginator = client.get_paginator("list_aliases")
        pages = aws_call(f"listing the KMS aliases of {region}", lambda: list(paginator.paginate()))
        aliases = sorted(a["AliasName"] for page in pages for a in page.get("Aliases", [])
                         if a.get("TargetKeyId") and not a["AliasName"].startswith("alias/aws/"))
        return [{**live, "alias": alias} for alias in aliases
                if (live := handler.read(identity={"region": region, "alias": alias})) is not None]

    def app_id(self, object_id: str) -> str | None:
        """The application ID of a service principal, or None for users, groups and unknown objects."""
        response = self._graph.request("GET", f"/servicePrincipals/{segment(object_id, 'object ID', plane='graph')}")
        body = json_body(response) if response.is_success else None
        return str(body["appId"]) if isinstance(body, dict) and body.get("appId") else None

    def astra_registrations(self, product: str) -> list[dict[str, Any]]:
        return self.astra.registrations(product)

    def confluent_keys(self) -> list[dict[str, Any]]:
        found = []
        for entry in self._confluent.byok_keys():
            key = entry.get("key") or {}
            if isinstance(key, dict) and key.get("key_id") and key.get("application_id"):
                found.append({"id": entry.get("id"), "keyId": str(key["key_id"]),
                              "applicationId": str(key["application_id"])})
        return found


def _access_policies(vault: dict[str, Any]) -> list[dict[str, Any]]:
    """Each entry's object ID and key permissions, named as the manifest names them."""
    entries = (vault.get("properties") or {}).get("accessPolicies") or []
    return [{"objectId": e["objectId"], "keys": sorted({canonical(p) for p in (e.get("permissions") or {})
                                                          .get("keys") or []})} for e in entries]


def shared_inventory(clients: Clients, *, subscription_id: str) -> Inventory:
    """An inventory on a run's own clients: what the plan listed is not listed again."""
    planes = clients.planes
    return Inventory(clients.azure, clients.graph, planes["astra"], planes["confluent"], subscription_id)


@contextmanager
def inventory(connection: Connection, *, subscription_id: str, aws_account_id: str | None = None
              ) -> Iterator[Inventory]:
    endpoints = connection.endpoints
    graph_http = plane_http(connection, "graph", endpoints.graph)
    astra_http = plane_http(connection, "astra", endpoints.astra)
    confluent_http = plane_http(connection, "confluent", endpoints.confluent)
    session = AzureSession(connection, subscription_id=subscription_id)
    confluent = ConfluentClient(confluent_http.get, connection.confluent_api_key, connection.confluent_api_secret)
    # Only an export whose accounts name an AWS account lists KMS keys (export skips AWS regions otherwise).
    aws = AwsSession(connection, account_id=aws_account_id) if aws_account_id is not None else None
    try:
        yield Inventory(session, GraphClient(graph_http.get, session, base_url=endpoints.graph),
                        AstraClient(astra_http.get, connection.astra_token), confluent, subscription_id, aws)
    finally:
        for http in (graph_http, astra_http, confluent_http):
            http.close()
        session.close()
        if aws is not None:
            aws.close()
