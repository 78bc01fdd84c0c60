"""Microsoft.DocumentDB/mongoClusters (Mongo vCore): create (LRO PUT), update (LRO PATCH), read.

PUT answers 201 and PATCH 202, each with `Azure-AsyncOperation` and `Location` (Retry-After: 10);
the operation is already done when polled, as the vault's is. Rules the service states:
- the encryption mode (service-managed or customer-managed key) is fixed at creation;
- the key's identity must exist and be attached to the cluster (`identity.userAssignedIdentities`
  as the request leaves it);
- an `identity.userAssignedIdentities` in a PUT or PATCH is the cluster's whole set from then on:
  an identity it leaves out is detached (a null entry too). The 2026-06-01 definition does not say
  whether a PATCH merges that map or replaces it (its values are only `x-nullable`); the sandbox
  takes the reading under which a client that sends only the key's identity loses the others;
- a customer-key change sends both the identity and the key URL.
Where the service's answer is unknown the sandbox chooses (codes below; see README.md): the key
URL must be versionless and name an existing key, and the identity must be able to use the key
(a key role on the vault or key for an RBAC vault; get, wrapKey and unwrapKey in an access policy
otherwise). The administrator password is checked and dropped: never stored, never answered.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from cmkctl_sandbox import mongo_copies, msi, propagation, rbac
from cmkctl_sandbox.arm_common import (
    POLL_AFTER,
    api_version,
    arm_section,
    bad_request,
    in_group,
    in_subscription,
    json_object,
    now_iso,
    refuse,
    resource_not_found,
    settle,
    settled_reply,
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


def clusters(state: State) -> dict[str, dict[str, Any]]:
    # A state saved before Mongo vCore was emulated has no section yet.
    found: dict[str, dict[str, Any]] = arm_section(state).setdefault("mongoClusters", {})
    return found


def _operations(state: State) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = arm_section(state).setdefault("mongoOperations", {})
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


def check_cmk(state: State, cmk: Any, attached: dict[str, Any]) -> None:
    """Both halves present, the identity real and attached, the key real, versionless and usable by it."""
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
    _check_key_access(state, vault, cmk["keyEncryptionKeyUrl"], found["properties"]["principalId"])


def _check_key_url(state: State, url: str) -> dict[str, Any]:
    match = KEY_URL.match(url)
    if match is None or match["version"]:
        refuse(400, "InvalidKeyEncryptionKeyUrl", f"'{url}' is not a versionless Key Vault key URL "
               "(https://VAULT.vault.azure.net/keys/NAME).")
    vault = find_vault(state, match["vault"])
    if vault is None or match["key"].lower() not in vault["keys"]:
        refuse(400, "KeyEncryptionKeyNotFound", f"The key '{url}' does not exist.")
    return vault


def _check_key_access(state: State, vault: dict[str, Any], url: str, principal_id: str) -> None:
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
    propagation.check_arm(state, resource["name"], principal_id)


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


def _accepted(request: Request, state: State, params: Params, resource: dict[str, Any]) -> dict[str, str]:
    """The LRO headers: an operation that is already complete when first polled."""
    operation = str(uuid.uuid4())
    _operations(state)[operation] = {"cluster": _key(params), "startTime": now_iso()}
    base = f"https://{request.header('host')}/subscriptions/{params['sub']}/providers/Microsoft.DocumentDB/locations/" \
           f"{resource['location'].replace(' ', '').lower()}"
    version = api_version(request)
    return {
        "Azure-AsyncOperation": f"{base}/mongoClusterAzureAsyncOperation/{operation}?api-version={version}",
        "Location": f"{base}/mongoClusterOperationResults/{operation}?api-version={version}",
        **POLL_AFTER,
    }


# The operation completes on the first read, as the vault's does.
SETTLED = {"provisioningState": "Succeeded", "clusterStatus": "Ready"}


def _settled_reply(resource: dict[str, Any]) -> Reply:
    return settled_reply(resource, SETTLED)


def get_cluster(request: Request, state: State, params: Params) -> Reply:
    return _settled_reply(_cluster_in_group(state, params))


def list_clusters(request: Request, state: State, params: Params) -> Reply:
    """The clusters of a resource group (ARM's ListByResourceGroup), each read as a GET would."""
    resources = in_group(clusters(state), params)
    advanced = [settle(resource, SETTLED) for resource in resources]
    return Reply(200, {"value": resources}, advanced=any(advanced))


def list_subscription_clusters(request: Request, state: State, params: Params) -> Reply:
    """Every cluster of the subscription (ARM's List): what export adopts."""
    resources = in_subscription(clusters(state), params)
    advanced = [settle(resource, SETTLED) for resource in resources]
    return Reply(200, {"value": resources}, advanced=any(advanced))


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
    _update(state, existing, body, whole=True)
    return Reply(200, existing, _accepted(request, state, params, existing))


def patch_cluster(request: Request, state: State, params: Params) -> Reply:
    existing = _cluster_in_group(state, params)
    body = json_object(request)
    if "properties" in body and not isinstance(body["properties"], dict):
        bad_request("'properties' must be an object.")
    _update(state, existing, body, whole=False)
    return Reply(202, None, _accepted(request, state, params, existing))


def _create(request: Request, state: State, params: Params, body: dict[str, Any]) -> Reply:
    properties = body["properties"]
    source = mongo_copies.source_of(clusters(state), properties)
    if source is None:
        _check_new(properties)
    else:
        properties = mongo_copies.copied(properties, source)
    attached = requested_identities(state, body)
    cmk = _cmk(properties)
    if cmk is not None:
        check_cmk(state, cmk, attached)
    resource = new_cluster(params["sub"], params["rg"], params["name"], body["location"], properties,
                           body.get("tags"))
    _attach(state, resource, attached, str((body.get("identity") or {}).get("type") or "UserAssigned"))
    clusters(state)[_key(params)] = resource
    return Reply(201, resource, _accepted(request, state, params, resource))


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


def _update(state: State, resource: dict[str, Any], body: dict[str, Any], *, whole: bool) -> None:
    """PUT (whole) or PATCH on an existing cluster; the encryption mode never changes."""
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
    if asked is not None:
        check_cmk(state, asked, (resource.get("identity") or {}).get("userAssignedIdentities") or {})
        resource["properties"]["encryption"] = {"customerManagedKeyEncryption": asked}
    if isinstance(body.get("tags"), dict):
        resource["tags"] = body["tags"]


def get_async_operation(request: Request, state: State, params: Params) -> Reply:
    operation = _operations(state).get(params["operation"])
    if operation is None:
        refuse(404, "OperationNotFound", f"The operation '{params['operation']}' was not found.")
    return Reply(200, {"id": request.path, "name": params["operation"], "status": "Succeeded",
                       "startTime": operation["startTime"], "endTime": now_iso()})


def get_operation_result(request: Request, state: State, params: Params) -> Reply:
    operation = _operations(state).get(params["operation"])
    resource = clusters(state).get(operation["cluster"]) if operation else None
    if resource is None:
        refuse(404, "OperationNotFound", f"The operation '{params['operation']}' was not found.")
    return _settled_reply(resource)


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
