"""Microsoft.ManagedIdentity/userAssignedIdentities: create or update (a plain PUT) and read.

A new identity is also a service principal in the tenant (servicePrincipalType ManagedIdentity,
appId = clientId, id = principalId), so role assignments to its principalId pass the sandbox's
PrincipalNotFound check as they would in Azure, once RBAC sees it (replication.py). Identities are kept in
`state.arm.userAssignedIdentities`, keyed by lower-case "subscription/group/name".
"""

from __future__ import annotations

import re
from typing import Any

from cmkctl_sandbox import graph
from cmkctl_sandbox.arm_common import (
    arm_section,
    in_group,
    in_subscription,
    json_object,
    refuse,
    resource_not_found,
    tenant_id,
)
from cmkctl_sandbox.ids import stable_uuid
from cmkctl_sandbox.replication import principal_created
from cmkctl_sandbox.routes import Params, Route, route
from cmkctl_sandbox.wire import Reply, Request, State

IDENTITY_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
# Azure's rule for identity names: 3-128 characters, letters, digits, hyphens and underscores.
IDENTITY_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$")
IDENTITY_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.ManagedIdentity/"
    r"userAssignedIdentities/(?P<name>[^/]+)/?$",
    re.IGNORECASE,
)


def identities(state: State) -> dict[str, dict[str, Any]]:
    # A state saved before identities were emulated has no section yet.
    found: dict[str, dict[str, Any]] = arm_section(state).setdefault("userAssignedIdentities", {})
    return found


def record_key(subscription: str, resource_group: str, name: str) -> str:
    return f"{subscription}/{resource_group}/{name}".lower()


def identity_id(subscription: str, resource_group: str, name: str) -> str:
    # The lower-case "resourcegroups" is how ARM answers in the specification's example.
    return f"/subscriptions/{subscription}/resourcegroups/{resource_group}/providers/{IDENTITY_TYPE}/{name}"


def find_by_id(state: State, resource_id: str) -> dict[str, Any] | None:
    """The identity a resource ID names, whatever the case of its segments; None if absent."""
    match = IDENTITY_ID.match(resource_id)
    if match is None:
        return None
    return identities(state).get(record_key(match["sub"], match["rg"], match["name"]))


def new_identity(state: State, subscription: str, resource_group: str, name: str, location: str,
                 tags: dict[str, Any] | None = None) -> dict[str, Any]:
    """Store a new identity (and its service principal); returns its ARM document."""
    key = record_key(subscription, resource_group, name)
    principal_id, client_id = stable_uuid("uai-principal", key), stable_uuid("uai-client", key)
    resource = {
        "id": identity_id(subscription, resource_group, name),
        "name": name,
        "type": IDENTITY_TYPE,
        "location": location,
        "tags": tags or {},
        "properties": {"tenantId": tenant_id(state), "principalId": principal_id, "clientId": client_id,
                       "isolationScope": "None"},
    }
    identities(state)[key] = resource
    principal = graph.service_principal(app_id=client_id, object_id=principal_id, display_name=name,
                                        tenant_id=tenant_id(state))
    principal["servicePrincipalType"] = "ManagedIdentity"
    state["graph"]["servicePrincipals"][principal_id] = principal
    return resource


def get_identity(request: Request, state: State, params: Params) -> Reply:
    resource = identities(state).get(record_key(params["sub"], params["rg"], params["name"]))
    if resource is None:
        resource_not_found(IDENTITY_TYPE, params["name"], params["rg"])
    return Reply(200, resource)


def put_identity(request: Request, state: State, params: Params) -> Reply:
    body = json_object(request)
    location = body.get("location")
    if not isinstance(location, str) or not location:
        refuse(400, "LocationRequired", "The location property is required for this definition.")
    if not IDENTITY_NAME.match(params["name"]):
        refuse(400, "InvalidResourceName", f"The resource name '{params['name']}' is invalid.")
    existing = identities(state).get(record_key(params["sub"], params["rg"], params["name"]))
    if existing is None:
        created = new_identity(state, params["sub"], params["rg"], params["name"], location, body.get("tags"))
        principal_created(state, created["properties"]["principalId"])  # RBAC sees it later (replication.py)
        return Reply(201, created)
    if location.replace(" ", "").lower() != existing["location"].replace(" ", "").lower():
        refuse(409, "InvalidResourceLocation", f"The resource '{params['name']}' already exists in location "
               f"'{existing['location']}' in resource group '{params['rg']}'. A resource with the same name cannot "
               f"be created in location '{location}'. Please select a new resource name.")
    existing["tags"] = body.get("tags") or {}
    return Reply(200, existing)


def list_identities(request: Request, state: State, params: Params) -> Reply:
    """The identities of a resource group (ARM's ListByResourceGroup)."""
    return Reply(200, {"value": in_group(identities(state), params)})


def list_subscription_identities(request: Request, state: State, params: Params) -> Reply:
    """Every identity of the subscription (ARM's ListBySubscription): what export adopts."""
    return Reply(200, {"value": in_subscription(identities(state), params)})


_SUBSCRIPTION_IDENTITIES = r"^/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.ManagedIdentity/userAssignedIdentities"
_IDENTITIES = (r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.ManagedIdentity/"
               r"userAssignedIdentities")
_IDENTITY = _IDENTITIES + r"/(?P<name>[^/]+)"
ROUTES: tuple[Route, ...] = (
    route(_SUBSCRIPTION_IDENTITIES, {"GET": list_subscription_identities}),
    route(_IDENTITIES, {"GET": list_identities}),
    route(_IDENTITY, {"GET": get_identity, "PUT": put_identity}),
)
