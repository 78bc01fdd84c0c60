"""Contract: role assignments against the sandbox's ARM, with directory replication lag."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from reconciler.core.errors import ProviderError, TransientError
from reconciler.manifest.model import Accounts
from reconciler.providers.azure_authorization import AUTHORIZATION_CLIENT, assignment_name
from reconciler.providers.azure_common import AzureSession
from reconciler.providers.base import Connection, Live
from reconciler.providers.registry import Handlers, build_handlers
from reconciler.systems import PLUGINS

from .canary import assert_no_canary
from .conftest import RESOURCE_GROUP, SUBSCRIPTION

GROUP = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
SCOPE = f"{GROUP}/providers/Microsoft.KeyVault/vaults/acme-kv"
ROLE_GUID = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
ROLE = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{ROLE_GUID}"
APP_ID = "7c5a0f3e-2b1d-4e8f-9a6c-3d2e1f0a9b8c"
ATTRIBUTES = {"principalType": "ServicePrincipal"}
ASSIGNMENTS = "Microsoft.Authorization/roleAssignments"


def new_principal(handlers: Handlers) -> str:
    created = handlers.by_kind["azuread_service_principal"].create(identity={"appId": APP_ID}, attributes={})
    object_id: str = created["objectId"]
    return object_id


def identity(principal: str, scope: str = SCOPE) -> dict[str, str]:
    return {"scope": scope, "roleDefinitionId": ROLE, "principalId": principal}


def create_through_lag(handlers: Handlers, connection: Connection, wanted: dict[str, str],
                       attempts: int = 10) -> tuple[Live, int]:
    """Retries PrincipalNotFound as the engine does, a second at a time on the run's (the emulator's)
    clock; returns the refusals."""
    assignments = handlers.by_kind["azure_role_assignment"]
    for refused in range(attempts):
        try:
            return assignments.create(identity=wanted, attributes=ATTRIBUTES), refused
        except TransientError as e:
            assert e.code == "PrincipalNotFound"
            connection.clock.sleep(1)
    raise AssertionError("replication lag never ended")


def test_absent_assignment_reads_as_none(handlers: Handlers) -> None:
    principal = new_principal(handlers)
    assert handlers.by_kind["azure_role_assignment"].read(identity=identity(principal)) is None


@pytest.mark.lags(principalReplication=1)
def test_new_principal_is_transient_then_assigned(handlers: Handlers, connection: Connection) -> None:
    principal = new_principal(handlers)
    created, refused = create_through_lag(handlers, connection, identity(principal))
    assert refused >= 1  # the principal lag holds a new principal's first PUT back
    assert created["principalType"] == "ServicePrincipal"
    assert created["name"] == assignment_name(SCOPE, ROLE, principal)
    assert handlers.by_kind["azure_role_assignment"].read(identity=identity(principal)) == created


def test_creating_an_assignment_twice_is_safe(handlers: Handlers, connection: Connection) -> None:
    principal = new_principal(handlers)
    first, _ = create_through_lag(handlers, connection, identity(principal))
    # The same name again (a retry after a lost reply, a re-run): ARM's 409, read as the existing one.
    again = handlers.by_kind["azure_role_assignment"].create(identity=identity(principal), attributes=ATTRIBUTES)
    assert again == first


def test_assignment_under_another_name_is_adopted(handlers: Handlers, connection: Connection, sandbox: Any) -> None:
    principal = new_principal(handlers)
    by_hand = assign_by_hand(connection, principal)
    assignments = handlers.by_kind["azure_role_assignment"]
    adopted = assignments.create(identity=identity(principal), attributes=ATTRIBUTES)
    assert adopted["name"] == by_hand
    assert adopted == assignments.read(identity=identity(principal))
    assert [c["status"] for c in sandbox.calls() if c["method"] == "PUT"][-1] == 409


def assign_by_hand(connection: Connection, principal: str) -> str:
    """What `az role assignment create` does: a random name, retried through the lag."""
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

    session = AzureSession(connection, subscription_id=SUBSCRIPTION)
    client = session.client(AUTHORIZATION_CLIENT, SUBSCRIPTION)
    name = str(uuid.uuid4())
    parameters = RoleAssignmentCreateParameters(
        role_definition_id=ROLE, principal_id=principal, principal_type="ServicePrincipal"
    )
    for _ in range(10):
        try:
            client.role_assignments.create(SCOPE, name, parameters)
            return name
        except HttpResponseError as e:
            assert e.error is not None and e.error.code == "PrincipalNotFound"
            connection.clock.sleep(1)
    raise AssertionError("replication lag never ended")


def test_unknown_principal_reads_as_absent(handlers: Handlers) -> None:
    from reconciler.plan.model import Unknown

    unknown = Unknown(address="azuread_service_principal.astra", attribute="objectId")
    wanted = {"scope": SCOPE, "roleDefinitionId": ROLE, "principalId": unknown}
    assert handlers.by_kind["azure_role_assignment"].read(identity=wanted) is None


def test_assignment_at_another_scope_is_not_this_one(handlers: Handlers, connection: Connection) -> None:
    principal = new_principal(handlers)
    elsewhere = identity(principal, scope=f"/subscriptions/{SUBSCRIPTION}/resourceGroups/x")
    create_through_lag(handlers, connection, elsewhere)
    assert handlers.by_kind["azure_role_assignment"].read(identity=identity(principal)) is None


def test_unknown_principal_never_shows_the_token(handlers: Handlers) -> None:
    assignments = handlers.by_kind["azure_role_assignment"]
    with pytest.raises(TransientError) as excinfo:
        assignments.create(identity=identity(str(uuid.uuid4())), attributes=ATTRIBUTES)
    assert_no_canary(excinfo)


def test_principal_id_must_be_an_object_id(handlers: Handlers) -> None:
    with pytest.raises(ProviderError, match="not an object ID"):
        handlers.by_kind["azure_role_assignment"].read(identity=identity("x' or principalId ne '"))


def test_assignments_are_never_updated(handlers: Handlers) -> None:
    with pytest.raises(ProviderError):
        handlers.by_kind["azure_role_assignment"].update(identity=identity("p"), attributes=ATTRIBUTES, live={})


def test_an_assignment_made_by_hand_below_the_group_is_read_by_a_new_run(
    handlers: Handlers, connection: Connection, sandbox: Any
) -> None:
    # Listed without a filter at its resource group, ARM answers only what applies there (at or
    # above): an assignment on a vault or key below it is found by a list at its own scope.
    principal = new_principal(handlers)
    by_hand = assign_by_hand(connection, principal)
    organization = sandbox.state["astra"]["orgId"]
    with build_handlers(connection, Accounts(azure_subscription_id=SUBSCRIPTION, blocks={"astra": {"organizationId": organization}}), PLUGINS) as fresh:
        found = fresh.by_kind["azure_role_assignment"].read(identity=identity(principal))
    assert found is not None and found["name"] == by_hand
    lists = [c for c in sandbox.calls() if c["method"] == "GET" and c["path"].endswith("/roleAssignments")]
    assert [(c["path"], c["query"].get("$filter")) for c in lists] == [(f"{SCOPE}/providers/{ASSIGNMENTS}", "atScope()")]
