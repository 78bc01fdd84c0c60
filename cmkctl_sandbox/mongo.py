"""Microsoft.DocumentDB/mongoClusters (Mongo vCore): create (LRO PUT), update (LRO PATCH), read.

Writes are long-running operations (operations.py), on the channel the live recording and the
examples show: a create answers 201 with the cluster `InProgress`/`Provisioning` and an
`Azure-AsyncOperation` (and `Location`), no Retry-After, and its status answers `InProgress` until,
about 8 minutes of the emulator's time later, `Succeeded` (the SDK's recorded
test_create_mongo_clusters: 08:46:08 to 08:54:17); a PATCH answers 202 with both headers and no body
(MongoClusters_PatchCMK.json), its `Location` answering 202 while it runs and the cluster once done.
A key the cluster's identity cannot reach yet (a grant still propagating, propagation.py) fails the
operation with `KeyVaultAccessForbidden`, its changes put back. Rules the service states:
- the encryption mode (service-managed or customer-managed key) is fixed at creation;
- the key's identity must exist and be attached to the cluster (`identity.userAssignedIdentities`
  as the request leaves it);
- an `identity.userAssignedIdentities` in a PUT or PATCH is the cluster's whole set from then on:
  an identity it leaves out is detached (a null entry too). The 2026-06-01 definition does not say
  whether a PATCH merges that map or replaces it (its values are only `x-nullable`); the sandbox
  takes the reading under which a client that sends only the key's identity loses the others;
- a customer-key change sends both the identity and the key URL.
Where the service's answer is unknown the sandbox chooses (codes below; see README.md): the key
URL must be versionless and name an existing key, and the identity must be granted the key (a key
role on the vault or key for an RBAC vault; get, wrapKey and unwrapKey in an access policy
otherwise). The administrator password is checked and dropped: never stored, never answered.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from cmkctl_sandbox import mongo_copies, msi, operations, propagation, rbac, realism
from cmkctl_sandbox.arm_common import (
    arm_section,
    bad_request,
    in_group,
    in_subscription,
    json_object,
    refuse,
    resource_not_found,
)
from cmkctl_sandbox.roles import grants_key_use
from cmkctl_sandbox.routes import Params, Route, route
from cmkctl_sandbox.vaults import find_vault
from cmkctl_sandbox.wire import Reply, Request, State

CLUSTER_TYPE = "Microsoft.DocumentDB/mongoClusters"
CLUSTER_NAME = re.compile(r"^(?=.{3,40}$)[a-z0-9]+(-[a-z0-9]+)*$")
KEY_URL = re.compile(r"^https://(?P<vault>[A-Za-z0-9-]+)\.vault\.azure\.net(:443)?/keys/(?P<key>[A-Za-z0-9-]+)"
                     r"(?P<version>/[^/]+)?/?$", re.IGNORECASE)
MODE_FIXED = ("The data encryption mode of a cluster (service-managed or customer-managed key) is chosen at cluster "
              "creation and cannot be changed. Create a replica cluster or restore the cluster with the new "
              "encryption mode instead.")
KEY_PERMISSIONS = frozenset({"get", "wrapkey", "unwrapkey"})
READY = {"provisioningState": "Succeeded", "clusterStatus": "Ready"}


def clusters(state: State) -> dict[str, dict[str, Any]]:
    # A state saved before Mongo vCore was emulated has no section yet.
    found: dict[str, dict[str, Any]] = arm_section(state).setdefault("mongoClusters", {})
    return found


def cluster_id(subscription: str, resource_group: str, name: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{CLUSTER_TYPE}/{name}"


def _key(params: Params) -> str:
    return f"{params['sub']}/{params['rg']}/{params['name']}".lower()


def _cluster_in_group(state: State, params: Params) -> dict[str, Any]:
    resource = clusters(state).get(_key(params))
    if resource is None:
        resource_not_found(CLUSTER_TYPE, params["name"], params["rg"])
    return resource


# ---------------------------------------------------------------------------------------------
# checks


def _cmk(properties: dict[str, Any]) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (properties.get("encryption") or {}).get("customerManagedKeyEncryption")
    return found


def check_cmk(state: State, cmk: Any, attached: dict[str, Any]) -> dict[str, str] | None:
    """Both halves present, the identity real and attached, the key real, versionless and granted to it;
    the error the operation will end with when the grant has not reached Key Vault yet, else None."""
    if not isinstance(cmk, dict) or not isinstance(cmk.get("keyEncryptionKeyIdentity"), dict) \
            or not isinstance(cmk.get("keyEncryptionKeyUrl"), str):
        bad_request("customerManagedKeyEncryption needs both keyEncryptionKeyIdentity and keyEncryptionKeyUrl.")
    identity = cmk["keyEncryptionKeyIdentity"]
    if identity.get("identityType") != "UserAssignedIdentity":
        bad_request("keyEncryptionKeyIdentity.identityType must be UserAssignedIdentity.")
    identity_id = str(identity.get("userAssignedIdentityResourceId") or "")
    found = msi.find_by_id(state, identity_id)
    if found is None:
        refuse(400, "UserAssignedIdentityNotFound", f"The user-assigned identity '{identity_id}' does not exist.")
    if identity_id.lower() not in {k.lower() for k in attached}:
        refuse(400, "UserAssignedIdentityNotAttached", f"The user-assigned identity '{identity_id}' used to access "
               "the data encryption key must be in the cluster's identity.userAssignedIdentities.")
    vault = _check_key_url(state, cmk["keyEncryptionKeyUrl"])
    return _check_key_access(state, vault, cmk["keyEncryptionKeyUrl"], found["properties"]["principalId"])


def _check_key_url(state: State, url: str) -> dict[str, Any]:
    match = KEY_URL.match(url)
    if match is None or match["version"]:
        refuse(400, "InvalidKeyEncryptionKeyUrl", f"'{url}' is not a versionless Key Vault key URL "
               "(https://VAULT.vault.azure.net/keys/NAME).")
    vault = find_vault(state, match["vault"])
    if vault is None or match["key"].lower() not in vault["keys"]:
        refuse(400, "KeyEncryptionKeyNotFound", f"The key '{url}' does not exist.")
    return vault


def _check_key_access(state: State, vault: dict[str, Any], url: str, principal_id: str) -> dict[str, str] | None:
    resource = vault["resource"]
    if resource["properties"].get("enableRbacAuthorization"):
        assignments = arm_section(state)["roleAssignments"].values()
        allowed = any(_role_covers(a, resource["id"], principal_id) for a in assignments)
    else:
        policies = resource["properties"].get("accessPolicies") or []
        allowed = any(_policy_covers(p, principal_id) for p in policies)
    if not allowed:
        refuse(400, "KeyEncryptionKeyAccessDenied", f"The user-assigned identity (principal {principal_id}) cannot "
               f"get, wrap and unwrap the key '{url}'.")
    return propagation.arm_failure(state, resource["name"], url, principal_id)


def _role_covers(assignment: dict[str, Any], vault_id: str, principal_id: str) -> bool:
    scope = rbac.normal_scope(assignment["scope"])
    at_or_above = rbac.normal_scope(vault_id).startswith(scope) or scope.startswith(rbac.normal_scope(vault_id))
    return (assignment["principalId"].lower() == principal_id.lower() and at_or_above
            and grants_key_use(rbac.role_guid(assignment["roleDefinitionId"])))


def _policy_covers(policy: dict[str, Any], principal_id: str) -> bool:
    held = {p.lower() for p in (policy.get("permissions") or {}).get("keys") or []}
    mine = str(policy.get("objectId", "")).lower() == principal_id.lower()
    return mine and ("all" in held or held >= KEY_PERMISSIONS)


def requested_identities(state: State, body: dict[str, Any]) -> dict[str, Any]:
    """The user-assigned identities a request attaches, each checked to exist."""
    identity = body.get("identity")
    if identity is None:
        return {}
    given = identity.get("userAssignedIdentities") if isinstance(identity, dict) else None
    if not isinstance(given, dict):
        bad_request("'identity.userAssignedIdentities' must be an object.")
    if given and identity.get("type") not in ("UserAssigned", "SystemAssigned,UserAssigned"):
        bad_request("identity.type must include UserAssigned when userAssignedIdentities are given.")
    for resource_id, value in given.items():
        if value is not None and msi.find_by_id(state, resource_id) is None:
            refuse(400, "UserAssignedIdentityNotFound", f"The user-assigned identity '{resource_id}' does not exist.")
    return given


def _attach(state: State, resource: dict[str, Any], attached: dict[str, Any], kind: str) -> None:
    """The identities a request names become the cluster's set (see the module's rules), each
    answered with its principalId and clientId (as ARM does)."""
    if not attached:
        return
    kept = [resource_id for resource_id, value in attached.items() if value is not None]
    resource["identity"] = {"type": kind, "userAssignedIdentities": {
        resource_id: _answered_identity(state, resource_id) for resource_id in kept}}


def _answered_identity(state: State, resource_id: str) -> dict[str, Any]:
    found = msi.find_by_id(state, resource_id) or {"properties": {}}
    return {"principalId": found["properties"].get("principalId"), "clientId": found["properties"].get("clientId")}


# ---------------------------------------------------------------------------------------------
# requests


def _started(request: Request, state: State, params: Params, resource: dict[str, Any],
             operation: operations.Operation) -> dict[str, str]:
    """Start the write's operation; the headers that point at it (the recording's and PatchCMK.json's)."""
    identifier = operations.start(state, request, operation)

    def url(collection: str) -> str:
        return operations.status_url(request, params["sub"], "Microsoft.DocumentDB", resource["location"], collection,
                                     identifier)
    return {"Azure-AsyncOperation": url("mongoClusterAzureAsyncOperation"),
            "Location": url("mongoClusterOperationResults")}


def get_cluster(request: Request, state: State, params: Params) -> Reply:
    return Reply(200, _cluster_in_group(state, params))


def list_clusters(request: Request, state: State, params: Params) -> Reply:
    """The clusters of a resource group (ARM's ListByResourceGroup)."""
    return Reply(200, {"value": in_group(clusters(state), params)})


def list_subscription_clusters(request: Request, state: State, params: Params) -> Reply:
    """Every cluster of the subscription (ARM's List): what export adopts."""
    return Reply(200, {"value": in_subscription(clusters(state), params)})


def put_cluster(request: Request, state: State, params: Params) -> Reply:
    if not CLUSTER_NAME.match(params["name"]):
        bad_request(f"The mongo cluster name '{params['name']}' is invalid: 3-40 lower-case letters, digits and "
                    "single hyphens.")
    body = json_object(request)
    if not isinstance(body.get("location"), str) or not body["location"]:
        refuse(400, "LocationRequired", "The location property is required for this definition.")
    properties = body.get("properties")
    if not isinstance(properties, dict):
        bad_request("The request body must contain 'properties'.")
    existing = clusters(state).get(_key(params))
    if existing is None:
        return _create(request, state, params, body)
    headers = _started(request, state, params, existing, _update(state, params, existing, body, whole=True))
    return Reply(200, existing, headers)


def patch_cluster(request: Request, state: State, params: Params) -> Reply:
    existing = _cluster_in_group(state, params)
    body = json_object(request)
    if "properties" in body and not isinstance(body["properties"], dict):
        bad_request("'properties' must be an object.")
    headers = _started(request, state, params, existing, _update(state, params, existing, body, whole=False))
    return Reply(202, None, headers)


def _target(params: Params) -> tuple[str, ...]:
    return ("arm", "mongoClusters", _key(params))


def _create(request: Request, state: State, params: Params, body: dict[str, Any]) -> Reply:
    properties = body["properties"]
    source = mongo_copies.source_of(clusters(state), properties)
    if source is None:
        _check_new(properties)
    else:
        properties = mongo_copies.copied(properties, source)
    attached = requested_identities(state, body)
    cmk = _cmk(properties)
    error = check_cmk(state, cmk, attached) if cmk is not None else None
    resource = new_cluster(params["sub"], params["rg"], params["name"], body["location"], properties,
                           body.get("tags"))
    _attach(state, resource, attached, str((body.get("identity") or {}).get("type") or "UserAssigned"))
    clusters(state)[_key(params)] = resource
    operation = operations.Operation(_target(params), realism.MONGO_CLUSTER_CREATE, done=READY, error=error)
    return Reply(201, resource, _started(request, state, params, resource, operation))


def _check_new(properties: dict[str, Any]) -> None:
    administrator = properties.get("administrator")
    if not isinstance(administrator, dict) or not administrator.get("userName") or not administrator.get("password"):
        bad_request("A new cluster needs properties.administrator with userName and password.")
    if not (properties.get("compute") or {}).get("tier") or not (properties.get("storage") or {}).get("sizeGb"):
        bad_request("A new cluster needs properties.compute.tier and properties.storage.sizeGb.")


def new_cluster(subscription: str, resource_group: str, name: str, location: str, properties: dict[str, Any],
                tags: dict[str, Any] | None) -> dict[str, Any]:
    """A cluster document as ARM answers the creating PUT; the password is dropped."""
    kept = {k: v for k, v in properties.items() if k not in ("administrator", "encryption")}
    stored: dict[str, Any] = {
        "provisioningState": "InProgress",
        "clusterStatus": "Provisioning",
        "administrator": {"userName": (properties.get("administrator") or {}).get("userName")},
        "serverVersion": "7.0",
        "publicNetworkAccess": "Enabled",
        "createMode": "Default",
        **kept,
    }
    if _cmk(properties) is not None:
        stored["encryption"] = {"customerManagedKeyEncryption": _cmk(properties)}
    return {"id": cluster_id(subscription, resource_group, name), "name": name, "type": CLUSTER_TYPE,
            "location": location, "tags": tags or {}, "properties": stored}


def _update(state: State, params: Params, resource: dict[str, Any], body: dict[str, Any], *,
            whole: bool) -> operations.Operation:
    """PUT (whole) or PATCH on an existing cluster, and the operation that carries it out; the
    encryption mode never changes."""
    if whole and body["location"].replace(" ", "").lower() != resource["location"].replace(" ", "").lower():
        refuse(409, "InvalidResourceLocation", f"The resource '{resource['name']}' already exists in location "
               f"'{resource['location']}'.")
    properties = body.get("properties") or {}
    asked, held = _cmk(properties), _cmk(resource["properties"])
    changes_mode = (asked is not None and held is None) or (whole and asked is None and held is not None)
    if changes_mode:
        refuse(400, "EncryptionModeChangeNotSupported", MODE_FIXED)
    requested = requested_identities(state, body)
    # Identities passed are attached even if the request then fails (as the procedure says).
    current_type = str((resource.get("identity") or {}).get("type") or "UserAssigned")
    _attach(state, resource, requested, str((body.get("identity") or {}).get("type") or current_type))
    before = copy.deepcopy(resource["properties"])
    error = None
    if asked is not None:
        error = check_cmk(state, asked, (resource.get("identity") or {}).get("userAssignedIdentities") or {})
        resource["properties"]["encryption"] = {"customerManagedKeyEncryption": asked}
    if isinstance(body.get("tags"), dict):
        resource["tags"] = body["tags"]
    # What the service puts back if it cannot carry the update out (ARM's async reference).
    resource["properties"].update({"provisioningState": "Updating", "clusterStatus": "Updating"})
    return operations.Operation(_target(params), realism.MONGO_CLUSTER_UPDATE, done=READY, error=error, restore=before)


def get_async_operation(request: Request, state: State, params: Params) -> Reply:
    found = operations.status(state, params["operation"], request.path)
    if found is None:
        refuse(404, "OperationNotFound", f"The operation '{params['operation']}' was not found.")
    return Reply(200, found)


def get_operation_result(request: Request, state: State, params: Params) -> Reply:
    """ARM's Location: 202 and no body while the operation runs, then what the write would have
    answered at once: the cluster, or the operation's error."""
    record = operations.record_of(state, params["operation"])
    if record is None:
        refuse(404, "OperationNotFound", f"The operation '{params['operation']}' was not found.")
    if record["status"] == "Failed":
        refuse(400, record["error"]["code"], record["error"]["message"])
    if record["status"] != "Succeeded":
        return Reply(202, None, {"Location": f"https://{request.header('host')}{request.path}?"
                                             f"api-version={request.query.get('api-version', '')}"})
    resource = operations.resource_of(state, record)
    if resource is None:
        resource_not_found(CLUSTER_TYPE, params["operation"], "")
    return Reply(200, resource)


_CLUSTERS = r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.DocumentDB/mongoClusters"
_CLUSTER = _CLUSTERS + r"/(?P<name>[^/]+)"
_OPERATIONS = r"^/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.DocumentDB/locations/(?P<location>[^/]+)"
ROUTES: tuple[Route, ...] = (
    route(r"^/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.DocumentDB/mongoClusters",
          {"GET": list_subscription_clusters}),
    route(_CLUSTERS, {"GET": list_clusters}),
    route(_CLUSTER, {"GET": get_cluster, "PUT": put_cluster, "PATCH": patch_cluster}),
    route(_OPERATIONS + r"/mongoClusterAzureAsyncOperation/(?P<operation>[^/]+)", {"GET": get_async_operation}),
    route(_OPERATIONS + r"/mongoClusterOperationResults/(?P<operation>[^/]+)", {"GET": get_operation_result}),
)
