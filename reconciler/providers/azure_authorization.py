"""Role assignments (azure-mgmt-authorization, api-version 2022-04-01)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from reconciler.core.errors import PrincipalPendingError, ProviderError, TransientError
from reconciler.providers.azure_common import (
    AzureSession,
    error_code,
    sdk_errors,
    subscription_of_scope,
    translate,
)
from reconciler.providers.base import Capability, Live
from reconciler.providers.paths import resource_id

PLANE = "arm"
AUTHORIZATION_CLIENT = "azure.mgmt.authorization:AuthorizationManagementClient"

# Fixed namespace for assignment names: the same (scope, role, principal) always gets the same
# name, so a re-run after a crash PUTs the same assignment instead of a duplicate.
ASSIGNMENT_NAMESPACE = uuid.UUID("6f1c3f0e-5b7e-4d52-9a39-2c1c8f3b7a11")

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def role_guid(role_definition_id: str) -> str:
    """The trailing GUID: ARM returns role ids with or without the `/subscriptions/...` prefix."""
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def same_scope(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


def assignment_name(scope: str, role_definition_id: str, principal_id: str) -> str:
    key = f"{scope.rstrip('/').lower()}|{role_guid(role_definition_id)}|{principal_id.lower()}"
    return str(uuid.uuid5(ASSIGNMENT_NAMESPACE, key))


def _principal_id(identity: Mapping[str, Any]) -> str:
    """The principal's object ID, checked: it goes into an OData filter."""
    principal = identity["principalId"]
    if not isinstance(principal, str) or not _GUID.match(principal):
        raise ProviderError(f"azure_role_assignment: principalId {principal!r} is not an object ID", plane=PLANE)
    return principal


def assignment_live(assignment: Any) -> Live:
    return {"principalType": assignment.principal_type, "id": assignment.id, "name": assignment.name}


class RoleAssignmentHandler:
    kind = "azure_role_assignment"
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, session: AzureSession) -> None:
        self._session = session

    def _client(self, scope: str) -> Any:
        # Calls are addressed by scope; the subscription only satisfies the client's constructor.
        subscription = subscription_of_scope(scope) or self._session.default_subscription()
        self._session.check_subscription(subscription)
        return self._session.client(AUTHORIZATION_CLIENT, subscription)

    def read(self, *, identity: Mapping[str, Any]) -> Live | None:
        scope, role = identity["scope"], identity["roleDefinitionId"]
        if not isinstance(identity["principalId"], str):
            return None  # the principal is not created yet (its ID is known only after apply)
        principal = _principal_id(identity).lower()
        matches = [a for a in self._listed(scope) if same_scope(a.scope or "", scope) and _same_role(a, role)
                   and str(a.principal_id or "").lower() == principal]
        return assignment_live(matches[0]) if matches else None

    def _listed(self, scope: str) -> list[Any]:
        """The assignments at (and above) `scope`, listed once per run: every principal's grants on
        one vault, key or VNet cost one list (and its pages)."""
        return self._session.lists.get(_listing_key(scope), lambda: self._list(scope))

    def _list(self, scope: str) -> list[Any]:
        try:
            # atScope(): at or above the scope, as the role-assignments definition (2022-04-01,
            # RoleAssignmentFilterParameter) documents; listed at the assignment's own scope, since
            # a list at a resource group never answers what is below it.
            return list(self._client(scope).role_assignments.list_for_scope(_in_url(scope), filter="atScope()"))
        except sdk_errors() as e:
            if _is_not_found(e):
                return []  # the vault or VNet does not exist yet: nothing is assigned on it
            raise translate(e, f"list role assignments on {scope}") from e

    def _forget(self, scope: str) -> None:
        self._session.lists.forget(_listing_key(scope))

    def create(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live:
        scope, role = identity["scope"], identity["roleDefinitionId"]
        principal = _principal_id(identity)
        what = f"assign role {role_guid(role)} to {principal} on {scope}"
        try:
            created = self._client(scope).role_assignments.create(
                _in_url(scope),
                assignment_name(scope, role, principal),
                _create_parameters(role, principal, attributes),
            )
        except sdk_errors() as e:
            self._forget(scope)  # the assignment may exist now; a read must list again
            return self._after_create_error(e, identity, what)
        self._forget(scope)
        return assignment_live(created)

    def update(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any], live: Mapping[str, Any]) -> Live:
        raise ProviderError("azure_role_assignment: a role assignment cannot be updated, only replaced", plane=PLANE)

    def _after_create_error(self, e: Exception, identity: Mapping[str, Any], what: str) -> Live:
        code = error_code(e)
        if code == "PrincipalNotFound":
            # A principal created moments ago is not yet visible to RBAC: replication lag.
            raise PrincipalPendingError(
                f"{what}: HTTP 400 PrincipalNotFound: the principal is not yet visible to Azure RBAC (replication lag)",
                plane=PLANE,
                code=code,
                status=getattr(e, "status_code", None),
                awaiting=f"principal {_principal_id(identity)} to reach Azure RBAC",
            ) from e
        if code == "RoleAssignmentExists":
            # The same assignment exists under another name (made by hand or by another tool).
            existing = self.read(identity=identity)
            if existing is not None:
                return existing
            raise TransientError(
                f"{what}: ARM says the assignment exists but does not list it yet", plane=PLANE, code=code
            ) from e
        raise translate(e, what) from e


def _in_url(scope: str) -> str:
    """The scope as the SDK puts it in the URL: verbatim (it may not quote a scope's slashes), so encoded here."""
    return resource_id(scope, "role assignment scope", plane=PLANE)


def _listing_key(scope: str) -> tuple[str, str]:
    return ("roleAssignments", scope.rstrip("/").lower())


def _is_not_found(e: Exception) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    return isinstance(e, ResourceNotFoundError)


def _same_role(assignment: Any, role_definition_id: str) -> bool:
    return role_guid(assignment.role_definition_id or "") == role_guid(role_definition_id)


def _create_parameters(role: str, principal: str, attributes: Mapping[str, Any]) -> Any:
    from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

    # The SDK defaults principal_type to "User"; cmkctl's principals are service principals and
    # managed identities, and an explicit type also lets ARM accept a not-yet-replicated one.
    return RoleAssignmentCreateParameters(
        role_definition_id=role,
        principal_id=principal,
        principal_type=attributes.get("principalType", "ServicePrincipal"),
        description=attributes.get("description"),
    )
