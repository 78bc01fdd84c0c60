"""Microsoft.DocumentDB/cassandraClusters and their dataCenters (Managed Instance for Apache Cassandra).

Writes are long-running operations (operations.py) on the channel the live recording and the
examples show: a create answers 201 `Creating` with an `Azure-AsyncOperation` under
`locations/L/operationsStatus/ID` and no Retry-After, its status answering `Dequeued` until, about 5
minutes of the emulator's time later, `Succeeded` (azure-cli's recorded managed-cassandra cluster
create: 09:15:16 to 09:20:18); a PATCH answers 202 `Updating` with an `Azure-AsyncOperation`
(CosmosDBManagedCassandraClusterPatch.json, ...DataCenterPatch.json); a PUT on an existing object
answers 200 `Updating` the same way. A data center whose cluster's identity cannot reach its key yet
(a grant still propagating, propagation.py) fails its operation with `KeyVaultAccessForbidden`, its
changes put back. A cluster with `identity.type: SystemAssigned` gets a principal (registered in
Graph as a managed identity, so RBAC can see it); the initial admin password is checked and never
stored. The sandbox refuses, at the PUT (real Azure fails the deployment later), what the procedure
says fails:

- a cluster or data center whose subnet's VNet does not give the Azure Cosmos DB service principal
  Network Contributor;
- a data center whose key URI is not a versioned URI of an existing key version, whose key's vault
  has no purge protection ("Datacenter deployments will fail without it"), or whose cluster's
  identity holds no grant to get, wrap and unwrap the key (access policy, or a key role on an RBAC vault).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from cmkctl_sandbox import graph, operations, propagation, realism, replication
from cmkctl_sandbox.access_policies import has_key_permissions
from cmkctl_sandbox.arm_common import (
    arm_section,
    bad_request,
    in_group,
    in_subscription,
    json_object,
    refuse,
    resource_not_found,
    tenant_id,
)
from cmkctl_sandbox.ids import stable_uuid
from cmkctl_sandbox.rbac import normal_scope, role_guid
from cmkctl_sandbox.roles import grants_key_use
from cmkctl_sandbox.routes import Params, Route, route
from cmkctl_sandbox.vaults import find_vault
from cmkctl_sandbox.wire import Reply, Request, State

CLUSTER_TYPE = "Microsoft.DocumentDB/cassandraClusters"
DATA_CENTER_TYPE = "Microsoft.DocumentDB/cassandraClusters/dataCenters"
COSMOS_DB_APP_ID = "a232010e-820c-4083-83bb-3ace5fc29d0b"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
KEY_PERMISSIONS = ("get", "wrapKey", "unwrapKey")
PURGE_PROTECTION_REQUIRED = "Make sure that the key vault has purge protection turned on. Datacenter deployments " \
    "will fail without it."
KEY_URI = re.compile(r"^https://(?P<vault>[A-Za-z0-9-]+)\.vault\.azure\.net(:443)?/keys/(?P<key>[A-Za-z0-9-]+)"
                     r"(/(?P<version>[0-9a-fA-F]{32}))?/?$")
SUBNET = re.compile(r"^(?P<vnet>/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/"
                    r"virtualNetworks/[^/]+)/subnets/[^/]+/?$", re.IGNORECASE)
IDENTITY_TYPES = ("SystemAssigned", "None")
# Fields a write may not change on an existing object (create-only in the API).
CLUSTER_FIXED = ("delegatedManagementSubnetId",)
DATA_CENTER_FIXED = ("dataCenterLocation", "delegatedSubnetId")
KEY_FIELDS = ("managedDiskCustomerKeyUri", "backupStorageCustomerKeyUri")
# What the operation's status answers until it ends (the recording).
RUNNING = "Dequeued"

_CLUSTERS = (r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.DocumentDB/"
             r"cassandraClusters")
_CLUSTER = _CLUSTERS + r"/(?P<cluster>[^/]+)"
_DATA_CENTERS = _CLUSTER + r"/dataCenters"


def clusters(state: State) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = arm_section(state).setdefault("cassandraClusters", {})
    return found


def cluster_key(subscription: str, resource_group: str, name: str) -> str:
    return f"{subscription}/{resource_group}/{name}".lower()


def cluster_id(subscription: str, resource_group: str, name: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{CLUSTER_TYPE}/{name}"


def _record(state: State, params: Params) -> dict[str, Any] | None:
    return clusters(state).get(cluster_key(params["sub"], params["rg"], params["cluster"]))


def _existing(state: State, params: Params) -> dict[str, Any]:
    record = _record(state, params)
    if record is None:
        resource_not_found(CLUSTER_TYPE, params["cluster"], params["rg"])
    return record


def _started(request: Request, state: State, params: Params, location: str, target: tuple[str, ...],
             lag: str, *, error: dict[str, str] | None = None,
             restore: dict[str, Any] | None = None) -> dict[str, str]:
    """Start the write's operation; the header that points at its status."""
    operation = operations.Operation(target, lag, running=RUNNING, error=error, restore=restore)
    identifier = operations.start(state, request, operation)
    return {"Azure-AsyncOperation": operations.status_url(request, params["sub"], "Microsoft.DocumentDB", location,
                                                          "operationsStatus", identifier)}


def _cluster_target(params: Params) -> tuple[str, ...]:
    return ("arm", "cassandraClusters", cluster_key(params["sub"], params["rg"], params["cluster"]), "resource")


def _data_center_target(params: Params) -> tuple[str, ...]:
    return ("arm", "cassandraClusters", cluster_key(params["sub"], params["rg"], params["cluster"]), "dataCenters",
            params["dc"].lower())


# ---------------------------------------------------------------------------------------------
# identities and network


def set_identity(state: State, resource: dict[str, Any], identity_type: str) -> str | None:
    """Give the cluster a system-assigned identity (a principal RBAC can see), or take it away; the
    principal's object ID when a new one was made."""
    if identity_type == "None":
        resource["identity"] = {"type": "None"}
        return None
    if (resource.get("identity") or {}).get("principalId"):
        return None
    principal = stable_uuid("cassandra-identity", resource["id"].lower())
    resource["identity"] = {"type": "SystemAssigned", "principalId": principal, "tenantId": tenant_id(state)}
    sp = graph.service_principal(app_id=stable_uuid("cassandra-identity-app", resource["id"].lower()),
                                 object_id=principal, display_name=resource["name"], tenant_id=tenant_id(state))
    state["graph"]["servicePrincipals"][principal] = {**sp, "servicePrincipalType": "ManagedIdentity"}
    return principal


def _identity_asked(state: State, resource: dict[str, Any], identity_type: str) -> None:
    """As a request sets it: a new identity is seen by RBAC only after a while (replication.py)."""
    principal = set_identity(state, resource, identity_type)
    if principal is not None:
        replication.principal_created(state, principal)


def _identity_type(body: dict[str, Any], default: str) -> str:
    given = body.get("identity")
    if given is None:
        return default
    if not isinstance(given, dict) or given.get("type") not in IDENTITY_TYPES:
        bad_request(f"identity.type must be one of {', '.join(IDENTITY_TYPES)}.")
    found: str = given["type"]
    return found


def check_network_role(state: State, subnet_id: str, what: str) -> None:
    """The procedure's prerequisite: Cosmos DB holds Network Contributor on the subnet's VNet."""
    match = SUBNET.match(subnet_id)
    if match is None:
        bad_request(f"'{subnet_id}' is not a subnet resource ID.")
    cosmos = graph.by_app_id(state, COSMOS_DB_APP_ID)
    vnet = normal_scope(match["vnet"])
    granted = cosmos is not None and any(
        normal_scope(a["scope"]) == vnet and role_guid(a["roleDefinitionId"]) == NETWORK_CONTRIBUTOR
        and a["principalId"].lower() == cosmos["id"].lower()
        for a in arm_section(state)["roleAssignments"].values())
    if not granted:
        bad_request(f"Cannot deploy the {what} into '{subnet_id}': the Azure Cosmos DB service principal "
                    f"({COSMOS_DB_APP_ID}) needs the Network Contributor role on virtual network '{match['vnet']}'.")


# ---------------------------------------------------------------------------------------------
# clusters


def get_cluster(request: Request, state: State, params: Params) -> Reply:
    return Reply(200, _existing(state, params)["resource"])


def list_clusters(request: Request, state: State, params: Params) -> Reply:
    """The clusters of a resource group (ARM's ListByResourceGroup)."""
    return Reply(200, {"value": [record["resource"] for record in in_group(clusters(state), params)]})


def list_subscription_clusters(request: Request, state: State, params: Params) -> Reply:
    """Every cluster of the subscription (ARM's ListBySubscription): what export adopts."""
    return Reply(200, {"value": [record["resource"] for record in in_subscription(clusters(state), params)]})


def put_cluster(request: Request, state: State, params: Params) -> Reply:
    body = json_object(request)
    properties = body.get("properties")
    if not isinstance(properties, dict):
        bad_request("The request body must contain 'properties'.")
    record = _record(state, params)
    if record is None:
        return _create_cluster(request, state, params, body, properties)
    resource = record["resource"]
    return Reply(200, resource, _updated_cluster(request, state, params, resource, body, properties))


def _create_cluster(request: Request, state: State, params: Params, body: dict[str, Any],
                    properties: dict[str, Any]) -> Reply:
    if not isinstance(body.get("location"), str) or not body["location"]:
        refuse(400, "LocationRequired", "The location property is required for this definition.")
    subnet = properties.get("delegatedManagementSubnetId")
    if not isinstance(subnet, str):
        bad_request("The property 'delegatedManagementSubnetId' is required.")
    if properties.get("authenticationMethod", "Cassandra") == "Cassandra" and not properties.get(
            "initialCassandraAdminPassword"):
        bad_request("The property 'initialCassandraAdminPassword' is required when authenticationMethod is Cassandra.")
    check_network_role(state, subnet, "cluster")
    resource = new_cluster(params["sub"], params["rg"], params["cluster"], body["location"], properties,
                           body.get("tags"))
    _identity_asked(state, resource, _identity_type(body, "None"))
    resource["properties"]["provisioningState"] = "Creating"
    clusters(state)[cluster_key(params["sub"], params["rg"], params["cluster"])] = {
        "subscriptionId": params["sub"], "resourceGroup": params["rg"], "resource": resource, "dataCenters": {}}
    return Reply(201, resource, _started(request, state, params, resource["location"], _cluster_target(params),
                                         realism.CASSANDRA_CLUSTER_CREATE))


def new_cluster(subscription: str, resource_group: str, name: str, location: str, given: dict[str, Any],
                tags: dict[str, Any] | None) -> dict[str, Any]:
    """A cluster document as ARM returns it; the password is write-only and never kept."""
    properties = {
        "provisioningState": "Succeeded",
        "delegatedManagementSubnetId": given["delegatedManagementSubnetId"],
        "cassandraVersion": given.get("cassandraVersion", "4.0"),
        "authenticationMethod": given.get("authenticationMethod", "Cassandra"),
        "hoursBetweenBackups": given.get("hoursBetweenBackups", 24),
        "seedNodes": [],
    }
    return {"id": cluster_id(subscription, resource_group, name), "name": name, "type": CLUSTER_TYPE,
            "location": location, "tags": tags or {}, "identity": {"type": "None"}, "properties": properties}


def _update_cluster(state: State, resource: dict[str, Any], body: dict[str, Any], properties: dict[str, Any]) -> None:
    if "location" in body and str(body["location"]).replace(" ", "").lower() != \
            resource["location"].replace(" ", "").lower():
        refuse(409, "InvalidResourceLocation", f"The cluster '{resource['name']}' already exists in location "
               f"'{resource['location']}'.")
    for name in CLUSTER_FIXED:
        if name in properties and normal_scope(str(properties[name])) != normal_scope(
                resource["properties"][name]):
            bad_request(f"The property '{name}' cannot be changed on an existing cluster.")
    properties.pop("initialCassandraAdminPassword", None)
    resource["properties"].update({k: v for k, v in properties.items() if k != "provisioningState"})
    if "tags" in body:
        resource["tags"] = body["tags"] or {}
    _identity_asked(state, resource, _identity_type(body, (resource.get("identity") or {}).get("type", "None")))


def patch_cluster(request: Request, state: State, params: Params) -> Reply:
    resource = _existing(state, params)["resource"]
    body = json_object(request)
    properties = body.get("properties") or {}
    if not isinstance(properties, dict):
        bad_request("'properties' must be an object.")
    return Reply(202, resource, _updated_cluster(request, state, params, resource, body, properties))


def _updated_cluster(request: Request, state: State, params: Params, resource: dict[str, Any], body: dict[str, Any],
                     properties: dict[str, Any]) -> dict[str, str]:
    before = copy.deepcopy(resource["properties"])
    _update_cluster(state, resource, body, properties)
    resource["properties"]["provisioningState"] = "Updating"
    return _started(request, state, params, resource["location"], _cluster_target(params), realism.CASSANDRA_UPDATE,
                    restore=before)


# ---------------------------------------------------------------------------------------------
# data centers


def data_center_id(cluster: dict[str, Any], name: str) -> str:
    return f"{cluster['resource']['id']}/dataCenters/{name}"


def new_data_center(cluster: dict[str, Any], name: str, properties: dict[str, Any]) -> dict[str, Any]:
    stored = {"provisioningState": "Succeeded", "sku": "Standard_DS14_v2", "diskCapacity": 4, "seedNodes": [],
              **{k: v for k, v in properties.items() if k != "provisioningState"}}
    return {"id": data_center_id(cluster, name), "name": name, "type": DATA_CENTER_TYPE, "properties": stored}


def get_data_center(request: Request, state: State, params: Params) -> Reply:
    cluster = _existing(state, params)
    found = cluster["dataCenters"].get(params["dc"].lower())
    if found is None:
        resource_not_found(DATA_CENTER_TYPE, f"{params['cluster']}/{params['dc']}", params["rg"])
    return Reply(200, found)


def list_data_centers(request: Request, state: State, params: Params) -> Reply:
    return Reply(200, {"value": list(_existing(state, params)["dataCenters"].values())})


def put_data_center(request: Request, state: State, params: Params) -> Reply:
    cluster = _existing(state, params)
    properties = json_object(request).get("properties")
    if not isinstance(properties, dict):
        bad_request("The request body must contain 'properties'.")
    existing = cluster["dataCenters"].get(params["dc"].lower())
    if existing is not None:
        return Reply(200, existing, _update_data_center(request, state, params, cluster, existing, properties))
    for name in ("dataCenterLocation", "delegatedSubnetId"):
        if not isinstance(properties.get(name), str):
            bad_request(f"The property '{name}' is required.")
    check_network_role(state, properties["delegatedSubnetId"], "data center")
    error = _check_keys(state, cluster, properties)
    resource = new_data_center(cluster, params["dc"], properties)
    resource["properties"]["provisioningState"] = "Creating"
    cluster["dataCenters"][params["dc"].lower()] = resource
    return Reply(201, resource, _started(request, state, params, properties["dataCenterLocation"],
                                         _data_center_target(params), realism.CASSANDRA_DATA_CENTER_CREATE,
                                         error=error))


def patch_data_center(request: Request, state: State, params: Params) -> Reply:
    cluster = _existing(state, params)
    existing = cluster["dataCenters"].get(params["dc"].lower())
    if existing is None:
        resource_not_found(DATA_CENTER_TYPE, f"{params['cluster']}/{params['dc']}", params["rg"])
    properties = json_object(request).get("properties") or {}
    if not isinstance(properties, dict):
        bad_request("'properties' must be an object.")
    return Reply(202, existing, _update_data_center(request, state, params, cluster, existing, properties))


def _update_data_center(request: Request, state: State, params: Params, cluster: dict[str, Any],
                        resource: dict[str, Any], properties: dict[str, Any]) -> dict[str, str]:
    """Carry out an update of a data center; the headers of the operation that finishes it."""
    current = resource["properties"]
    for name in DATA_CENTER_FIXED:
        if name in properties and str(properties[name]).replace(" ", "").lower() != \
                str(current.get(name)).replace(" ", "").lower():
            bad_request(f"The property '{name}' cannot be changed on an existing data center.")
    # Rotating the key is this update: the new URIs face the same checks as at creation.
    error = _check_keys(state, cluster, properties) if any(name in properties for name in KEY_FIELDS) else None
    before = copy.deepcopy(current)
    current.update({k: v for k, v in properties.items() if k != "provisioningState"})
    current["provisioningState"] = "Updating"
    location = str(current.get("dataCenterLocation") or cluster["resource"]["location"])
    return _started(request, state, params, location, _data_center_target(params), realism.CASSANDRA_UPDATE,
                    error=error, restore=before)


def _check_keys(state: State, cluster: dict[str, Any], properties: dict[str, Any]) -> dict[str, str] | None:
    """Refuse key URIs the data center cannot have; the error its operation will end with when the
    cluster's grant has not reached Key Vault yet, else None."""
    for field in KEY_FIELDS:
        # The service stops at the first key it cannot use: one refusal per request.
        error = _check_key(state, cluster, field, str(properties[field])) if properties.get(field) else None
        if error:
            return error
    return None


def _check_key(state: State, cluster: dict[str, Any], field: str, uri: str) -> dict[str, str] | None:
    match = KEY_URI.match(uri)
    if match is None or not match["version"]:
        bad_request(f"The property '{field}' must be a versioned key identifier "
                    f"(https://VAULT.vault.azure.net/keys/NAME/VERSION); got '{uri}'.")
    vault = find_vault(state, match["vault"])
    key = vault["keys"].get(match["key"].lower()) if vault else None
    if vault is None or key is None or match["version"].lower() not in {v["version"] for v in key["versions"]}:
        bad_request(f"The key '{uri}' in '{field}' was not found.")
    if not vault["resource"]["properties"].get("enablePurgeProtection"):
        bad_request(f"Key vault '{match['vault']}' of '{field}' does not have purge protection enabled. "
                    f"{PURGE_PROTECTION_REQUIRED}")
    principal = (cluster["resource"].get("identity") or {}).get("principalId")
    if not principal:
        bad_request(f"Cluster '{cluster['resource']['name']}' has no system-assigned identity to use the key in "
                    f"'{field}': update the cluster with identity type SystemAssigned first.")
    if not _may_use_key(state, vault, match["key"], principal):
        bad_request(f"The cluster's identity {principal} cannot get, wrap and unwrap key '{uri}' ('{field}'): "
                    "give it those key permissions in the vault's access policies (or a key role on an RBAC vault).")
    return propagation.arm_failure(state, vault["resource"]["name"], uri, principal)


def _may_use_key(state: State, vault: dict[str, Any], key: str, principal: str) -> bool:
    properties = vault["resource"]["properties"]
    if not properties.get("enableRbacAuthorization"):
        return has_key_permissions(vault, principal, KEY_PERMISSIONS)
    vault_scope = normal_scope(vault["resource"]["id"])
    scopes = {vault_scope, f"{vault_scope}/keys/{key.lower()}"}
    return any(normal_scope(a["scope"]) in scopes and grants_key_use(role_guid(a["roleDefinitionId"]))
               and a["principalId"].lower() == principal.lower()
               for a in arm_section(state)["roleAssignments"].values())


def get_operation_status(request: Request, state: State, params: Params) -> Reply:
    found = operations.status(state, params["operation"], request.path, described=False)
    if found is None:
        refuse(404, "NotFound", f"The operation '{params['operation']}' was not found.")
    return Reply(200, found)


ROUTES: tuple[Route, ...] = (
    route(r"^/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.DocumentDB/cassandraClusters",
          {"GET": list_subscription_clusters}),
    route(r"^/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.DocumentDB/locations/(?P<location>[^/]+)/"
          r"operationsStatus/(?P<operation>[^/]+)", {"GET": get_operation_status}),
    route(_CLUSTERS, {"GET": list_clusters}),
    route(_CLUSTER, {"GET": get_cluster, "PUT": put_cluster, "PATCH": patch_cluster}),
    route(_DATA_CENTERS, {"GET": list_data_centers}),
    route(_DATA_CENTERS + r"/(?P<dc>[^/]+)", {"GET": get_data_center, "PUT": put_data_center,
                                              "PATCH": patch_data_center}),
)
