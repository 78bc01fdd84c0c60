"""The sandbox's Cassandra clusters and data centers, vault access policies and key rotation, over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from cmkctl_sandbox import Sandbox, WorldError, load_state
from cmkctl_sandbox.errors import SandboxError
from cmkctl_sandbox.rotation import rotate_key
from cmkctl_sandbox.state import STATE_FILE
from cmkctl_sandbox.world import state_from_world
from tests.conftest import Result, write
from tests.emulated import http_client
from tests.sandbox.conftest import API, RG, SUB, vault_body, vault_path

OBJECT = "99999999-0000-0000-0000-000000000001"
OTHER = "99999999-0000-0000-0000-000000000002"
CLUSTER = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.DocumentDB/cassandraClusters/c1"
# The api-versions cmkctl pins for these resource types (reconciler.providers.azure_common.API_VERSIONS).
CASSANDRA_API = {"api-version": "2025-10-15"}
AUTH_API = {"api-version": "2022-04-01"}
SUBNET = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/mgmt"


def policy(object_id: str, *keys: str) -> dict[str, object]:
    return {"properties": {"accessPolicies": [{"tenantId": "t", "objectId": object_id, "permissions": {"keys": keys}}]}}


@pytest.fixture
def vault(client: httpx.Client, sandbox: Sandbox) -> str:
    tenant = sandbox.state["graph"]["tenantId"]
    created = client.put(vault_path("kv-ap"), params=API, json=vault_body(tenant, enableRbacAuthorization=False))
    assert created.status_code == 200
    return vault_path("kv-ap")


def policies(client: httpx.Client, path: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = client.get(path, params=API).json()["properties"]["accessPolicies"]
    return found


def test_access_policy_add_merges_replace_sets_remove_takes_away(client: httpx.Client, vault: str) -> None:
    assert client.put(f"{vault}/accessPolicies/add", params=API, json=policy(OBJECT, "get")).status_code == 200
    client.put(f"{vault}/accessPolicies/add", params=API, json=policy(OBJECT, "wrapKey", "get"))
    client.put(f"{vault}/accessPolicies/add", params=API, json=policy(OTHER, "list"))
    assert [p["permissions"] for p in policies(client, vault)] == [{"keys": ["get", "wrapKey"]}, {"keys": ["list"]}]
    replaced = client.put(f"{vault}/accessPolicies/replace", params=API, json=policy(OBJECT, "unwrapKey"))
    assert replaced.json()["properties"]["accessPolicies"][0]["permissions"] == {"keys": ["unwrapKey"]}
    client.put(f"{vault}/accessPolicies/remove", params=API, json=policy(OBJECT, "unwrapKey"))
    assert [p["objectId"] for p in policies(client, vault)] == [OTHER]


@pytest.mark.nonconforming("sends an operationKind outside the definition's enum, to see it refused")
def test_access_policy_operation_and_body_are_checked(client: httpx.Client, vault: str) -> None:
    wrong = client.put(f"{vault}/accessPolicies/merge", params=API, json=policy(OBJECT, "get"))
    assert wrong.status_code == 400 and "Retry-After" not in wrong.headers
    empty = client.put(f"{vault}/accessPolicies/add", params=API, json={"properties": {"accessPolicies": []}})
    assert empty.status_code == 400
    missing = client.put(f"{vault_path('kv-none')}/accessPolicies/add", params=API, json=policy(OBJECT, "get"))
    assert missing.status_code == 404


@pytest.mark.lags(cassandraClusterCreate=302, principalReplication=1)
def test_a_cluster_put_is_long_running_and_keeps_no_password(client: httpx.Client, sandbox: Sandbox) -> None:
    body = {"location": "eastus", "identity": {"type": "SystemAssigned"},
            "properties": {"delegatedManagementSubnetId": SUBNET, "initialCassandraAdminPassword": "pw-canary-9"}}
    refused = client.put(CLUSTER, params=CASSANDRA_API, json=body)
    assert refused.status_code == 400 and "Network Contributor" in refused.json()["error"]["message"]
    _grant_cosmos_network_contributor(client, sandbox)
    created = client.put(CLUSTER, params=CASSANDRA_API, json=body)
    # As the recorded `az managed-cassandra cluster create` answers: 201 Creating, an Azure-AsyncOperation
    # under the location's operationsStatus, no Retry-After; the status says Dequeued for some 5 minutes.
    assert created.status_code == 201 and "Retry-After" not in created.headers
    assert created.json()["properties"]["provisioningState"] == "Creating"
    assert created.json()["identity"]["principalId"]
    status = created.headers["Azure-AsyncOperation"]
    assert "/providers/Microsoft.DocumentDB/locations/eastus/operationsStatus/" in status
    assert client.get(status).json() == {"status": "Dequeued"}
    assert client.get(CLUSTER, params=CASSANDRA_API).json()["properties"]["provisioningState"] == "Creating"
    sandbox.offer.clock.sleep(302)
    assert client.get(status).json() == {"status": "Succeeded"}
    assert client.get(CLUSTER, params=CASSANDRA_API).json()["properties"]["provisioningState"] == "Succeeded"
    assert "pw-canary-9" not in (sandbox.directory / STATE_FILE).read_text()


def _grant_cosmos_network_contributor(client: httpx.Client, sandbox: Sandbox) -> None:
    with http_client(sandbox) as graph:
        cosmos = graph.post("/v1.0/servicePrincipals", json={"appId": "a232010e-820c-4083-83bb-3ace5fc29d0b"}).json()
    scope = SUBNET.rsplit("/subnets/", 1)[0]
    body = {"properties": {"principalId": cosmos["id"], "principalType": "ServicePrincipal", "roleDefinitionId":
                           f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
                           "4d97b98b-1d4f-4787-a291-c67834d212e7"}}
    path = f"{scope}/providers/Microsoft.Authorization/roleAssignments/5f1d9a62-0a4b-4c8e-9a51-0d1c8e2a3b4c"
    # The default world hides a new principal from RBAC for a second of its time (replication lag).
    assert client.put(path, params=AUTH_API, json=body).status_code == 400
    sandbox.offer.clock.sleep(1)
    assert client.put(path, params=AUTH_API, json=body).status_code == 201


def test_world_seeds_clusters_and_reports_bad_entries(tmp_path: Path) -> None:
    state = state_from_world({"azure": {"cassandraClusters": [
        {"subscription": SUB, "resourceGroup": RG, "name": "c1", "location": "eastus",
         "delegatedManagementSubnetId": SUBNET, "identity": "SystemAssigned",
         "dataCenters": [{"name": "dc1", "dataCenterLocation": "eastus", "delegatedSubnetId": SUBNET}]}]}})
    record = state["arm"]["cassandraClusters"][f"{SUB}/{RG}/c1".lower()]
    assert record["resource"]["identity"]["principalId"] in state["graph"]["servicePrincipals"]
    assert record["dataCenters"]["dc1"]["properties"]["sku"] == "Standard_DS14_v2"
    with pytest.raises(WorldError) as raised:
        state_from_world({"azure": {"cassandraClusters": [
            {"subscription": SUB, "resourceGroup": RG, "name": "c1", "location": "eastus", "colour": "blue",
             "delegatedManagementSubnetId": SUBNET, "dataCenters": [{"name": "dc1"}]}]}})
    text = str(raised.value)
    assert "azure.cassandraClusters[0].colour: unknown key" in text
    assert "azure.cassandraClusters[0].dataCenters[0].dataCenterLocation: required" in text
    with pytest.raises(WorldError, match="expected one of SystemAssigned, None"):
        state_from_world({"azure": {"cassandraClusters": [
            {"subscription": SUB, "resourceGroup": RG, "name": "c1", "location": "eastus",
             "delegatedManagementSubnetId": SUBNET, "identity": "UserAssigned"}]}})


def test_rotate_key_adds_a_version_that_becomes_current(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    write(directory / "world.yaml", f"""
azure:
  vaults:
    - {{subscription: {SUB}, resourceGroup: {RG}, name: kv-rot, location: eastus,
       keys: [{{name: cmk, kty: RSA}}]}}
""")
    first = load_state(directory)["arm"]["vaults"]["kv-rot"]["keys"]["cmk"]["versions"]
    assert len(first) == 1
    uri = rotate_key(directory, "kv-rot", "cmk")
    versions = load_state(directory)["arm"]["vaults"]["kv-rot"]["keys"]["cmk"]["versions"]
    assert len(versions) == 2 and uri == f"https://kv-rot.vault.azure.net/keys/cmk/{versions[-1]['version']}"
    with Sandbox(directory) as running:
        # The world file no longer counts: the rotated state is what the sandbox serves.
        assert len(running.state["arm"]["vaults"]["kv-rot"]["keys"]["cmk"]["versions"]) == 2
    with pytest.raises(SandboxError, match="holds no key 'other'"):
        rotate_key(directory, "kv-rot", "other")
    with pytest.raises(SandboxError, match="holds no vault 'kv-none'"):
        rotate_key(directory, "kv-none", "cmk")


def test_rotate_key_from_the_cli(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    directory = tmp_path / "s"
    directory.mkdir()
    result = cmkctl("sandbox", "rotate-key", directory, "kv-none", "cmk")
    assert result.code == 1 and "holds no vault 'kv-none'" in result.err
