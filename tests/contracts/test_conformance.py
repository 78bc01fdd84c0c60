"""The conformance harness catches what the real services would refuse, and lets through what they accept."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cmkctl_sandbox import Sandbox
from cmkctl_sandbox.state import read_calls
from reconciler.providers.azure_common import API_VERSIONS
from tests.conftest import EXAMPLES, Result, apply_ok
from tests.contracts import conformance
from tests.contracts.harness import Violation, check_call, check_sandbox
from tests.sandbox.conftest import SUB, client_for, vault_body, vault_path

ASSIGNMENT = f"{vault_path('kv-conf')}/providers/Microsoft.Authorization/roleAssignments"
CRYPTO_USER = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/e147488a-f6f5-4113-8e2d-b22465e65bf6"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "sandbox") as running:
        yield running


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with client_for(sandbox) as http:
        yield http


def problems(sandbox: Sandbox) -> list[str]:
    return [v.problem for v in check_sandbox(sandbox.directory)]


def test_conforming_requests_pass(client: httpx.Client, sandbox: Sandbox) -> None:
    tenant = sandbox.state["graph"]["tenantId"]
    assert client.put(vault_path("kv-conf"), params={"api-version": "2026-05-15"},
                      json=vault_body(tenant, enableRbacAuthorization=True)).status_code in (200, 201)
    assert client.get(vault_path("kv-conf"), params={"api-version": "2026-05-15"}).status_code == 200
    assert problems(sandbox) == []


@pytest.mark.nonconforming("sends a misspelled enum and a body without a required field, on purpose")
def test_misspelled_enum_and_missing_required_field_fail(client: httpx.Client, sandbox: Sandbox) -> None:
    tenant = sandbox.state["graph"]["tenantId"]
    no_location = {"properties": vault_body(tenant)["properties"]}
    client.put(vault_path("kv-conf"), params={"api-version": "2026-05-15"}, json=no_location)
    misspelled = {"properties": {"roleDefinitionId": CRYPTO_USER, "principalId": str(uuid.uuid4()),
                                 "principalType": "ServicePrinciple"}}
    client.put(f"{ASSIGNMENT}/{uuid.uuid4()}", params={"api-version": "2022-04-01"}, json=misspelled)
    found = problems(sandbox)
    assert "request body (body): 'location' is a required property" in found
    assert any(p.startswith("request body properties/principalType: 'ServicePrinciple' is not one of") for p in found)


@pytest.mark.nonconforming("asks for an operation, an api-version and a query parameter the definitions lack")
def test_unknown_operation_version_and_parameter_fail(client: httpx.Client, sandbox: Sandbox) -> None:
    client.get(vault_path("kv-conf"), params={"api-version": "2019-09-01"})
    client.get(vault_path("kv-conf") + "/certificates", params={"api-version": "2026-05-15"})
    client.get(vault_path("kv-conf"), params={"api-version": "2026-05-15", "$expand": "keys"})
    client.get("/v2/kms/provider/azure/region/eastus/keys")
    assert problems(sandbox) == [
        "no definition is read for api-version '2019-09-01'",
        "no operation of the definitions has this path",
        "query parameter '$expand' is not declared",
        "no operation of the definitions has this path",
    ]


def _call(**overrides: Any) -> dict[str, Any]:
    call = {"plane": "astra", "method": "POST", "path": "/v2/kms", "status": 200, "mutating": True, "query": {},
            "requestBody": {"orgId": "o", "azure": {"keyIdentifier": "https://v.vault.azure.net/keys/k",
                                                    "region": "eastus"}}, "responseBody": None}
    return {**call, **overrides}


def test_responses_are_held_to_the_definition() -> None:
    assert check_call(_call()) == []
    # The official client's definition declares 200 for a registration: 201 is not among its answers.
    assert [v.problem for v in check_call(_call(status=201))] == ["status 201 is not a response the operation declares"]
    # An error the operation does not list is refused too (no `default` in Astra's definition).
    assert [v.problem for v in check_call(_call(status=409, responseBody={"errors": []}))] == [
        "status 409 is not a response the operation declares"]
    listed = _call(method="GET", responseBody=[{"OrganizationID": 7}], requestBody=None)
    assert [v.problem for v in check_call(listed)] == ["response body 0/OrganizationID: 7 is not of type 'string'"]
    # The fault injector's replies stand for the network, not the service: only the request is judged.
    assert check_call(_call(status=503, fault="server_error")) == []


def test_an_allowance_names_only_what_its_source_documents() -> None:
    classic = _call(path="/v2/kms/classic", requestBody={"orgId": "o", "aws": {"keyID": "arn", "region": "x"}})
    assert check_call(classic) == []
    assert check_call(_call(path="/v2/kms/classic/keys"))[0].problem == "no operation of the definitions has this path"
    graph = {"plane": "graph", "method": "GET", "path": "/v1.0/servicePrincipals", "status": 200,
             "query": {"$filter": "appId in (" + ",".join(f"'{i}'" for i in range(16)) + ")"}}
    assert check_call(graph) != []  # Graph's `in` takes at most 15 expressions


def test_known_violations_are_still_seen(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    """Each entry of KNOWN_VIOLATIONS still happens (once fixed, delete the entry), and nothing else does.

    The provider filters of Confluent's key list and Astra's database list (issue 13, items 1 and 2)
    were such entries: both examples now conform whole.
    """
    found = []
    for example in ("confluent-azure-byok.yaml", "astra-serverless-azure.yaml"):
        apply_ok(cmkctl, EXAMPLES / example, tmp_path / example)
        found += check_sandbox(tmp_path / example)
    for entry in conformance.KNOWN_VIOLATIONS:
        assert any(entry.matches(v) for v in found), f"pending item {entry.item} no longer happens: {entry.why}"
    assert conformance.unexplained(found) == []


def test_known_violations_do_not_excuse_others() -> None:
    other = Violation("astra", "GET", "/v2/databases", 200, "query parameter 'status': 'GONE' is not one of [...]")
    assert conformance.unexplained([other]) == [other]


def test_api_versions_are_pinned_to_the_definitions_read(cmkctl: Callable[..., Result], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert API_VERSIONS == {
        "azure.mgmt.keyvault:KeyVaultManagementClient": "2026-05-15",
        "azure.mgmt.authorization:AuthorizationManagementClient": "2022-04-01",
        "azure.mgmt.cosmosdb:CosmosDBManagementClient": "2025-10-15",
        "azure.mgmt.mongocluster:MongoClusterMgmtClient": "2026-06-01",
        "azure.mgmt.msi:ManagedServiceIdentityClient": "2024-11-30",
    }
    monkeypatch.setenv("CASSANDRA_ADMIN_PASSWORD", "Pinned-0-Password")
    monkeypatch.setenv("MONGO_ADMIN_PASSWORD", "Pinned-0-Password")
    sandbox = tmp_path / "sandbox"
    apply_ok(cmkctl, EXAMPLES / "all-systems.yaml", sandbox)
    sent: dict[str, set[str]] = {}
    for call in read_calls(sandbox):
        if call["plane"] == "arm":
            sent.setdefault(_resource_kind(call["path"]), set()).add(call["query"]["api-version"])
    assert sent == {
        "microsoft.keyvault": {"2026-05-15"},
        "microsoft.authorization": {"2022-04-01"},
        "microsoft.documentdb/cassandraclusters": {"2025-10-15"},
        "microsoft.documentdb/mongoclusters": {"2026-06-01"},
        # the operations polled: Cassandra's (operationsStatus) and Mongo's, each at its write's api-version
        "microsoft.documentdb/locations": {"2025-10-15", "2026-06-01"},
        "microsoft.managedidentity": {"2024-11-30"},
    }


def _resource_kind(path: str) -> str:
    namespace, rest = path.rsplit("/providers/", 1)[1].split("/", 1) if "/providers/" in path else ("", "")
    if namespace.lower() == "microsoft.documentdb":
        return f"microsoft.documentdb/{rest.split('/', 1)[0].lower()}"
    return namespace.lower()


def _policy_put(body: Any, status: int = 200, **overrides: Any) -> dict[str, Any]:
    call = {"plane": "keyvault", "method": "PUT", "path": "/keys/cmk/rotationpolicy",
            "status": status, "query": {"api-version": "7.5"}, "requestBody": body,
            "responseBody": {"id": "https://kv-conf.vault.azure.net/keys/cmk/rotationpolicy", "lifetimeActions": [],
                             "attributes": {"created": 1, "updated": 1}}}
    return {**call, **overrides}


ROTATE = {"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "Rotate"}}


def test_key_vault_rotation_policies_are_held_to_the_data_plane_definition() -> None:
    assert check_call(_policy_put({"lifetimeActions": [ROTATE], "attributes": {"expiryTime": "P1Y"}})) == []
    misspelled = {"lifetimeActions": [{**ROTATE, "action": {"type": "Rotat"}}]}
    assert [v.problem for v in check_call(_policy_put(misspelled))] == [
        "request body lifetimeActions/0/action/type: 'Rotat' is not one of ['Rotate', 'Notify']"]
    mistyped = {"lifetimeActions": [ROTATE], "attributes": {"expiryTime": 90}}
    assert [v.problem for v in check_call(_policy_put(mistyped))] == [
        "request body attributes/expiryTime: 90 is not of type 'string'"]
    answered = _policy_put({"lifetimeActions": [ROTATE]}, responseBody={"lifetimeActions": ROTATE})
    assert [v.problem for v in check_call(answered)] == [
        "response body lifetimeActions: {'trigger': {'timeAfterCreate': 'P90D'}, 'action': {'type': 'Rotate'}} "
        "is not of type 'array'"]


def test_only_the_challenge_a_key_vault_client_elicits_goes_without_its_body() -> None:
    challenged = _policy_put(None, status=401, responseBody={"error": {"code": "Unauthorized", "message": "AKV10000"}})
    assert check_call(challenged) == []
    assert [v.problem for v in check_call(_policy_put(None, status=400, responseBody=None))] == [
        "the required request body is missing"]


def test_a_key_bundle_is_read_with_the_version_fragment_empty_or_named() -> None:
    bundle = {"key": {"kid": "https://kv-conf.vault.azure.net/keys/cmk/1", "kty": "RSA"}, "attributes": {}}
    get = {"plane": "keyvault", "method": "GET", "status": 200, "query": {"api-version": "7.5"}, "requestBody": None,
           "responseBody": bundle}
    assert check_call({**get, "path": "/keys/cmk/"}) == []
    assert check_call({**get, "path": "/keys/cmk/1"}) == []
    assert [v.problem for v in check_call({**get, "path": "/keys/cmk"})] == [
        "the path's operations are ['DELETE', 'PUT'], not GET"]
    assert [v.problem for v in check_call({**get, "path": "/keys/cmk/", "query": {
        "api-version": "7.4"}})] == ["no definition is read for api-version '7.4'"]
