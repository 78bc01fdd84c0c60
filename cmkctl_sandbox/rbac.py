"""Microsoft.Authorization/roleAssignments at any scope, with ARM's conflict and lag rules."""

from __future__ import annotations

import re
import uuid
from typing import Any

from cmkctl_sandbox import replication
from cmkctl_sandbox.arm_common import arm_section, json_object, now_iso, refuse, tenant_id
from cmkctl_sandbox.ids import CALLER_OBJECT_ID
from cmkctl_sandbox.propagation import granted
from cmkctl_sandbox.routes import Params
from cmkctl_sandbox.wire import Reply, Request, State

ASSIGNMENT_TYPE = "Microsoft.Authorization/roleAssignments"
ROLE_DEFINITION = re.compile(
    r"^(?:/subscriptions/[^/]+)?/providers/Microsoft\.Authorization/roleDefinitions/(?P<guid>[0-9a-fA-F-]{36})$",
    re.IGNORECASE,
)
PRINCIPAL_ID_FILTER = re.compile(r"principalId\s+eq\s+'(?P<id>[^']+)'", re.IGNORECASE)


def role_guid(role_definition_id: str) -> str:
    found = ROLE_DEFINITION.match(role_definition_id)
    return found.group("guid").lower() if found else ""


def normal_scope(scope: str) -> str:
    return scope.rstrip("/").lower()


def assignment_resource(record: dict[str, Any]) -> dict[str, Any]:
    # Unset properties are omitted, as ARM answers (the 2022-04-01 definition makes none of them nullable).
    properties = {key: value for key, value in record.items() if key != "name" and value is not None}
    return {
        "properties": properties,
        "id": f"{record['scope']}/providers/{ASSIGNMENT_TYPE}/{record['name']}",
        "type": ASSIGNMENT_TYPE,
        "name": record["name"],
    }


def _assignments(state: State) -> dict[str, dict[str, Any]]:
    assignments: dict[str, dict[str, Any]] = arm_section(state)["roleAssignments"]
    return assignments


def _requested(request: Request, params: Params) -> dict[str, Any]:
    """The assignment the PUT asks for, validated; timestamps are added when it is stored."""
    try:
        uuid.UUID(params["name"])
    except ValueError:
        refuse(
            400,
            "InvalidRoleAssignmentId",
            f"The role assignment ID '{params['name']}' is not valid. The role assignment ID must be a GUID.",
        )
    properties = json_object(request).get("properties")
    if not isinstance(properties, dict) or not isinstance(properties.get("principalId"), str):
        refuse(400, "InvalidRequestContent", "The request must contain properties.principalId.")
    definition = properties.get("roleDefinitionId")
    if not isinstance(definition, str) or not role_guid(definition):
        refuse(400, "InvalidRoleDefinitionId", f"The role definition ID '{definition}' is not valid.")
    return {
        "name": params["name"].lower(),
        "scope": params["scope"].rstrip("/"),
        "roleDefinitionId": definition,
        "principalId": properties["principalId"],
        "principalType": properties.get("principalType", "User"),
        "description": properties.get("description"),
    }


def _same_assignment(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (
        normal_scope(a["scope"]) == normal_scope(b["scope"])
        and role_guid(a["roleDefinitionId"]) == role_guid(b["roleDefinitionId"])
        and a["principalId"].lower() == b["principalId"].lower()
    )


def _check_principal(state: State, wanted: dict[str, Any]) -> None:
    graph = state["graph"]
    principal_id = wanted["principalId"]
    pending = graph["replication"]["pending"]
    if (principal_id not in graph["servicePrincipals"] or pending.get(principal_id, 0) > 0
            or not replication.visible(state, principal_id)):
        if pending.get(principal_id, 0) > 0:
            # Each refused attempt brings replication one step closer, as time would.
            pending[principal_id] -= 1
        refuse(
            400,
            "PrincipalNotFound",
            f"Principal {principal_id.replace('-', '')} does not exist in the directory {tenant_id(state)}. "
            "Check that you have the correct principal ID. If you are creating this principal and then "
            "immediately assigning a role, this error might be related to a replication delay. In this case, "
            "set the role assignment principalType property to a value, such as ServicePrincipal, User, or "
            "Group.  See https://aka.ms/docs-principaltype",
        )
    if wanted["principalType"] != "ServicePrincipal":
        refuse(
            400,
            "UnmatchedPrincipalType",
            f"The PrincipalId '{principal_id}' has type 'ServicePrincipal' , which is different from "
            f"specified PrincipalType '{wanted['principalType']}'.",
        )


def put_assignment(request: Request, state: State, params: Params) -> Reply:
    wanted = _requested(request, params)
    existing = _assignments(state).get(wanted["name"])
    if existing is not None:
        return _re_put(existing, wanted)
    _check_principal(state, wanted)
    if any(_same_assignment(wanted, other) for other in _assignments(state).values()):
        refuse(409, "RoleAssignmentExists", "The role assignment already exists.")
    stamp = now_iso()
    record = {
        **wanted,
        "createdOn": stamp,
        "updatedOn": stamp,
        "createdBy": CALLER_OBJECT_ID,
        "updatedBy": CALLER_OBJECT_ID,
    }
    _assignments(state)[record["name"]] = record
    granted(state, record["principalId"])
    return Reply(201, assignment_resource(record))


def _re_put(existing: dict[str, Any], wanted: dict[str, Any]) -> Reply:
    if not _same_assignment(existing, wanted) or existing["principalType"] != wanted["principalType"]:
        refuse(
            400,
            "RoleAssignmentUpdateNotPermitted",
            "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
        )
    # ARM's code for an identical re-PUT is unverified (the spec allows 200 and 201); 201 is chosen.
    return Reply(201, assignment_resource(existing))


def get_assignment(request: Request, state: State, params: Params) -> Reply:
    record = _assignments(state).get(params["name"].lower())
    if record is None or normal_scope(record["scope"]) != normal_scope(params["scope"]):
        refuse(404, "RoleAssignmentNotFound", f"The role assignment '{params['name']}' is not found.")
    return Reply(200, assignment_resource(record))


def delete_assignment(request: Request, state: State, params: Params) -> Reply:
    record = _assignments(state).get(params["name"].lower())
    if record is None or normal_scope(record["scope"]) != normal_scope(params["scope"]):
        return Reply(204)
    del _assignments(state)[record["name"]]
    return Reply(200, assignment_resource(record))


def _at_or_above(record_scope: str, scope: str) -> bool:
    mine, asked = normal_scope(record_scope), normal_scope(scope)
    return asked == mine or asked.startswith(mine + "/")


def _below(record_scope: str, scope: str) -> bool:
    return normal_scope(record_scope).startswith(normal_scope(scope) + "/")


def _filter_rule(query: str) -> Any:
    """The definition (role assignments 2022-04-01, RoleAssignmentFilterParameter and each list's
    "List all role assignments that apply to a ...") documents three forms: none, the assignments
    that apply to the scope (at or above it); `atScope()`, at or above; `principalId eq '{id}'`, at,
    above or below, of that principal. Any other filter is refused rather than guessed at."""
    text = query.strip()
    if not text or text.lower() == "atscope()":
        return lambda record, scope: _at_or_above(record["scope"], scope)
    principal = PRINCIPAL_ID_FILTER.fullmatch(text)
    if principal is None:
        refuse(400, "InvalidFilter", f"The filter '{query}' is not supported. Supported filters are atScope() "
               "and principalId eq '{id}'.")
    wanted = principal.group("id").lower()
    return lambda record, scope: record["principalId"].lower() == wanted and (
        _at_or_above(record["scope"], scope) or _below(record["scope"], scope))


def list_assignments(request: Request, state: State, params: Params) -> Reply:
    rule = _filter_rule(request.query.get("$filter", ""))
    matching = [assignment_resource(record) for record in _assignments(state).values()
                if rule(record, params["scope"])]
    return Reply(200, {"value": matching})
