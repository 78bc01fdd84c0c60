"""Microsoft Graph v1.0 service principals: create by appId, read by appId or object id."""

from __future__ import annotations

import datetime
import re
import uuid
from typing import Any, NoReturn

from cmkctl_sandbox import replication as principal_replication
from cmkctl_sandbox.routes import Params, Route, dispatch, route
from cmkctl_sandbox.wire import Refusal, Reply, Request, State

METADATA = "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals"
APP_ID_FILTER = re.compile(r"^\s*appId\s+eq\s+'(?P<value>[^']*)'\s*$", re.IGNORECASE)
# `appId in ('a','b')`: Graph allows at most 15 expressions in an `in` clause.
APP_IDS_FILTER = re.compile(r"^\s*appId\s+in\s*\((?P<values>[^)]*)\)\s*$", re.IGNORECASE)
IN_CLAUSE_LIMIT = 15
NAMES_FILTER = re.compile(r"^\s*servicePrincipalNames/any\(\w+:\w+\s+eq\s+'(?P<value>[^']*)'\)\s*$", re.IGNORECASE)


def graph_error(status: int, code: str, message: str) -> Reply:
    inner = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": str(uuid.uuid4()),
        "client-request-id": str(uuid.uuid4()),
    }
    return Reply(status, {"error": {"code": code, "message": message, "innerError": inner}})


def _refuse(status: int, code: str, message: str) -> NoReturn:
    raise Refusal(graph_error(status, code, message))


def service_principal(*, app_id: str, object_id: str, display_name: str, tenant_id: str) -> dict[str, Any]:
    """A service principal as Graph stores it (the fields a recording shows, trimmed)."""
    return {
        "id": object_id,
        "deletedDateTime": None,
        "accountEnabled": True,
        "appDisplayName": display_name,
        "appId": app_id,
        "appOwnerOrganizationId": tenant_id,
        "createdDateTime": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "displayName": display_name,
        "servicePrincipalNames": [app_id],
        "servicePrincipalType": "Application",
        "tags": [],
    }


def _principals(state: State) -> dict[str, dict[str, Any]]:
    principals: dict[str, dict[str, Any]] = state["graph"]["servicePrincipals"]
    return principals


def by_app_id(state: State, app_id: str) -> dict[str, Any] | None:
    return next((sp for sp in _principals(state).values() if sp["appId"].lower() == app_id.lower()), None)


def _entity(sp: dict[str, Any]) -> dict[str, Any]:
    return {"@odata.context": f"{METADATA}/$entity", **sp}


def _not_found(identifier: str) -> NoReturn:
    _refuse(
        404,
        "Request_ResourceNotFound",
        f"Resource '{identifier}' does not exist or one of its queried reference-property objects are not present.",
    )


def create(request: Request, state: State, params: Params) -> Reply:
    try:
        body = request.json()
    except ValueError:
        _refuse(400, "BadRequest", "Unable to read JSON request payload.")
    app_id = body.get("appId") if isinstance(body, dict) else None
    if not isinstance(app_id, str) or not _is_guid(app_id):
        _refuse(
            400,
            "Request_BadRequest",
            "Invalid value specified for property 'appId' of resource 'ServicePrincipal'.",
        )
    if by_app_id(state, app_id) is not None:
        _refuse(
            409,
            "Request_MultipleObjectsWithSameKeyValue",
            "The service principal cannot be created, updated, or restored because the service principal "
            f"name {app_id} is already in use.",
        )
    sp = service_principal(
        app_id=app_id,
        object_id=str(uuid.uuid4()),
        display_name=body.get("displayName") or f"app-{app_id[:8]}",
        tenant_id=state["graph"]["tenantId"],
    )
    sp["accountEnabled"] = body.get("accountEnabled", True)
    _principals(state)[sp["id"]] = sp
    replication = state["graph"]["replication"]
    # RBAC reads a replica of the directory that lags behind Graph (see rbac._check_principal).
    replication["pending"][sp["id"]] = replication["servicePrincipalAttempts"]
    principal_replication.created(state, sp["id"])
    return Reply(201, _entity(sp))


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def get_by_app_id(request: Request, state: State, params: Params) -> Reply:
    sp = by_app_id(state, params["appId"])
    if sp is None:
        _not_found(params["appId"])
    return Reply(200, _entity(sp))


def get_by_object_id(request: Request, state: State, params: Params) -> Reply:
    sp = _principals(state).get(params["id"].lower())
    if sp is None:
        _not_found(params["id"])
    return Reply(200, _entity(sp))


def list_principals(request: Request, state: State, params: Params) -> Reply:
    query = request.query.get("$filter", "")
    everything = list(_principals(state).values())
    if not query:
        matching = everything
    elif found := APP_ID_FILTER.match(query):
        matching = [sp for sp in everything if sp["appId"].lower() == found.group("value").lower()]
    elif found := APP_IDS_FILTER.match(query):
        matching = _with_app_ids(everything, found.group("values"))
    elif found := NAMES_FILTER.match(query):
        matching = [sp for sp in everything if found.group("value") in sp["servicePrincipalNames"]]
    else:
        _refuse(400, "Request_UnsupportedQuery", f"The sandbox does not support the filter '{query}'.")
    return Reply(200, {"@odata.context": METADATA, "value": matching})


def _with_app_ids(principals: list[dict[str, Any]], values: str) -> list[dict[str, Any]]:
    wanted = {v.strip().strip("'").lower() for v in values.split(",") if v.strip()}
    if len(wanted) > IN_CLAUSE_LIMIT:
        _refuse(400, "Request_UnsupportedQuery",
                f"Too many expressions in the 'in' clause (at most {IN_CLAUSE_LIMIT}).")
    return [sp for sp in principals if sp["appId"].lower() in wanted]


ROUTES: tuple[Route, ...] = (
    route(r"^/v1\.0/servicePrincipals", {"GET": list_principals, "POST": create}),
    route(r"^/v1\.0/servicePrincipals\(appId='(?P<appId>[^']+)'\)", {"GET": get_by_app_id}),
    route(r"^/v1\.0/servicePrincipals/(?P<id>[^/]+)", {"GET": get_by_object_id}),
)


def unauthorized(request: Request) -> Reply:
    return graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")


def handle(request: Request, state: State) -> Reply:
    return dispatch(
        ROUTES,
        request,
        state,
        not_found=lambda r: graph_error(400, "BadRequest", f"Resource not found for the segment '{r.path}'."),
        not_allowed=lambda r: graph_error(405, "Request_BadRequest", f"Method '{r.method}' is not allowed here."),
    )
