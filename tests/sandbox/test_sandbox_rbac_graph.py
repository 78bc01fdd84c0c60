"""Graph service principals and ARM role assignments, including replication lag."""

from __future__ import annotations

import uuid

import httpx
import pytest

from cmkctl_sandbox import Sandbox
from tests.sandbox.conftest import SUB, vault_path

AUTH_API = {"api-version": "2022-04-01"}
CRYPTO_USER = (
    f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/e147488a-f6f5-4113-8e2d-b22465e65bf6"
)
READER = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/21090545-7ca7-4776-b22c-e363652d74d2"
SCOPE = vault_path("kv-rbac")


def create_sp(client: httpx.Client, app_id: str) -> httpx.Response:
    return client.post("/v1.0/servicePrincipals", json={"appId": app_id, "accountEnabled": True})


def assign(
    client: httpx.Client, name: str, principal: str, role: str = CRYPTO_USER, scope: str = SCOPE
) -> httpx.Response:
    body = {"properties": {"roleDefinitionId": role, "principalId": principal, "principalType": "ServicePrincipal"}}
    return client.put(f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", params=AUTH_API, json=body)


def test_graph_create_then_conflict_then_read(client: httpx.Client) -> None:
    app_id = str(uuid.uuid4())
    created = create_sp(client, app_id)
    assert created.status_code == 201
    sp = created.json()
    assert sp["appId"] == app_id and sp["servicePrincipalNames"] == [app_id] and sp["accountEnabled"] is True
    assert sp["@odata.context"].endswith("$metadata#servicePrincipals/$entity")
    again = create_sp(client, app_id)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "Request_MultipleObjectsWithSameKeyValue"
    assert "innerError" in again.json()["error"]
    by_app = client.get(f"/v1.0/servicePrincipals(appId='{app_id}')")
    assert by_app.status_code == 200 and by_app.json()["id"] == sp["id"]
    assert client.get(f"/v1.0/servicePrincipals/{sp['id']}").json()["appId"] == app_id
    filtered = client.get("/v1.0/servicePrincipals", params={"$filter": f"appId eq '{app_id}'"}).json()
    assert [p["id"] for p in filtered["value"]] == [sp["id"]]


def test_graph_unknown_app_is_404(client: httpx.Client) -> None:
    missing = client.get(f"/v1.0/servicePrincipals(appId='{uuid.uuid4()}')")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "Request_ResourceNotFound"


def replicated(sandbox: Sandbox) -> None:
    """Let the emulator's time pass the principal lag a test turns on (1 s)."""
    sandbox.offer.clock.sleep(1)


@pytest.mark.lags(principalReplication=1)
def test_new_principal_is_invisible_to_rbac_for_a_while(client: httpx.Client, sandbox: Sandbox) -> None:
    principal = create_sp(client, str(uuid.uuid4())).json()["id"]
    name = str(uuid.uuid4())
    lagging = assign(client, name, principal)
    assert lagging.status_code == 400
    assert lagging.json()["error"]["code"] == "PrincipalNotFound"
    assert "does not exist in the directory" in lagging.json()["error"]["message"]
    assert "Retry-After" not in lagging.headers
    assert assign(client, name, principal).status_code == 400  # attempts do not count: time does
    replicated(sandbox)
    created = assign(client, name, principal)
    assert created.status_code == 201
    props = created.json()["properties"]
    assert props["scope"] == SCOPE and props["principalId"] == principal and props["createdOn"]
    assert created.json()["id"] == f"{SCOPE}/providers/Microsoft.Authorization/roleAssignments/{name}"


def test_unknown_principal_is_not_found(client: httpx.Client) -> None:
    refused = assign(client, str(uuid.uuid4()), str(uuid.uuid4()))
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "PrincipalNotFound"


def test_assignment_conflicts(client: httpx.Client, sandbox: Sandbox) -> None:
    principal = create_sp(client, str(uuid.uuid4())).json()["id"]
    name = str(uuid.uuid4())
    replicated(sandbox)
    assert assign(client, name, principal).status_code == 201
    # The identical PUT again, under the same name: ARM's 409 (Azure/azure-sdk-for-go#19060).
    again = assign(client, name, principal)
    assert again.status_code == 409
    assert again.json()["error"] == {"code": "RoleAssignmentExists", "message": "The role assignment already exists."}
    duplicate = assign(client, str(uuid.uuid4()), principal)
    assert duplicate.status_code == 409
    assert duplicate.json()["error"] == {
        "code": "RoleAssignmentExists",
        "message": "The role assignment already exists.",
    }
    assert "Retry-After" not in duplicate.headers
    changed = assign(client, name, principal, role=READER)
    assert changed.status_code == 400 and changed.json()["error"]["code"] == "RoleAssignmentUpdateNotPermitted"


def test_principal_type_must_match(client: httpx.Client, sandbox: Sandbox) -> None:
    principal = create_sp(client, str(uuid.uuid4())).json()["id"]
    replicated(sandbox)
    body = {"properties": {"roleDefinitionId": CRYPTO_USER, "principalId": principal, "principalType": "User"}}
    url = f"{SCOPE}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    refused = client.put(url, params=AUTH_API, json=body)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "UnmatchedPrincipalType"


def test_list_get_delete_assignments(client: httpx.Client, sandbox: Sandbox) -> None:
    principal = create_sp(client, str(uuid.uuid4())).json()["id"]
    name = str(uuid.uuid4())
    replicated(sandbox)
    assign(client, name, principal)
    assign(client, str(uuid.uuid4()), principal, scope=SCOPE + "/keys/cmk")
    collection = f"{SCOPE}/providers/Microsoft.Authorization/roleAssignments"
    at_scope = client.get(collection, params={**AUTH_API, "$filter": "atScope()"}).json()["value"]
    assert [a["name"] for a in at_scope] == [name]
    by_principal = client.get(collection, params={**AUTH_API, "$filter": f"principalId eq '{principal}'"})
    assert len(by_principal.json()["value"]) == 2  # without atScope(), assignments below count too
    unfiltered = client.get(collection, params=AUTH_API).json()["value"]
    assert [a["name"] for a in unfiltered] == [name]  # "apply to a scope": at or above, never below
    group = SCOPE.split("/providers/")[0] + "/providers/Microsoft.Authorization/roleAssignments"
    assert client.get(group, params=AUTH_API).json()["value"] == []
    below = client.get(group, params={**AUTH_API, "$filter": f"principalId eq '{principal}'"}).json()["value"]
    assert len(below) == 2
    undocumented = client.get(collection, params={**AUTH_API, "$filter": f"assignedTo('{principal}')"})
    assert undocumented.status_code == 400 and undocumented.json()["error"]["code"] == "InvalidFilter"
    assert client.get(f"{collection}/{name}", params=AUTH_API).status_code == 200
    assert client.delete(f"{collection}/{name}", params=AUTH_API).status_code == 200
    assert client.get(f"{collection}/{name}", params=AUTH_API).status_code == 404
    assert client.delete(f"{collection}/{name}", params=AUTH_API).status_code == 204
