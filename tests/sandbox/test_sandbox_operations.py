"""The emulator's long-running operations over HTTPS: they run for a while of its time, end Succeeded or
Failed with the service's code and message, and put back what a failed update changed."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from cmkctl_sandbox import Sandbox, operations
from tests.conftest import write
from tests.sandbox.conftest import API, RG, SUB, client_for, vault_body, vault_path

MONGO_API = {"api-version": "2026-06-01"}
AUTH_API = {"api-version": "2022-04-01"}
CLUSTER = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.DocumentDB/mongoClusters/orders"
IDENTITY = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
CRYPTO_SERVICE_USER = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/" \
                      "e147488a-f6f5-4113-8e2d-b22465e65bf6"
KEYS = [{"name": "cmk", "kty": "RSA", "keySize": 3072}, {"name": "cmk2", "kty": "RSA", "keySize": 3072}]
WORLD = {"azure": {
    "vaults": [{"subscription": SUB, "resourceGroup": RG, "name": "kv-mongo", "location": "eastus",
                "enablePurgeProtection": True, "enableRbacAuthorization": True, "keys": KEYS}],
    "userAssignedIdentities": [{"subscription": SUB, "resourceGroup": RG, "name": "id1", "location": "eastus"}],
    "mongoClusters": [{"subscription": SUB, "resourceGroup": RG, "name": "orders", "location": "eastus",
                       "identity": "id1", "keyEncryptionKeyUrl": "https://kv-mongo.vault.azure.net/keys/cmk"}]}}


def cmk(key: str) -> dict[str, Any]:
    return {"properties": {"encryption": {"customerManagedKeyEncryption": {
        "keyEncryptionKeyIdentity": {"identityType": "UserAssignedIdentity", "userAssignedIdentityResourceId": IDENTITY},
        "keyEncryptionKeyUrl": f"https://kv-mongo.vault.azure.net/keys/{key}"}}}}


def key_of(cluster: dict[str, Any]) -> str:
    url: str = cluster["properties"]["encryption"]["customerManagedKeyEncryption"]["keyEncryptionKeyUrl"]
    return url.rsplit("/", 1)[-1]


def grant_the_identity(client: httpx.Client, sandbox: Sandbox) -> None:
    principal = sandbox.state["arm"]["userAssignedIdentities"][f"{SUB}/{RG}/id1".lower()]["properties"]["principalId"]
    body = {"properties": {"roleDefinitionId": CRYPTO_SERVICE_USER, "principalId": principal,
                           "principalType": "ServicePrincipal"}}
    path = f"{vault_path('kv-mongo')}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    assert client.put(path, params=AUTH_API, json=body).status_code == 201


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    write(tmp_path / "sb" / "world.yaml", json.dumps(WORLD))
    return tmp_path / "sb"


def test_an_update_refused_the_key_while_its_grant_propagates_fails_and_is_put_back(directory: Path) -> None:
    write(directory / "faults.yaml", "grantLag: {seconds: 300}\n")
    with Sandbox(directory) as sandbox, client_for(sandbox) as client:
        grant_the_identity(client, sandbox)
        accepted = client.patch(CLUSTER, params=MONGO_API, json=cmk("cmk2"))
        assert accepted.status_code == 202, accepted.text
        status = accepted.headers["Azure-AsyncOperation"]
        running = client.get(CLUSTER, params=MONGO_API).json()
        assert running["properties"]["provisioningState"] == "Updating" and key_of(running) == "cmk2"
        assert client.get(status).json()["status"] == "InProgress"
        sandbox.offer.clock.sleep(operations.FAILS_AFTER)
        failed = client.get(status).json()
        assert failed["status"] == "Failed" and failed["error"]["code"] == "KeyVaultAccessForbidden"
        assert "'kv-mongo' refused principal" in failed["error"]["message"]
        assert failed["startTime"] < failed["endTime"] and failed["name"] == status.rsplit("/", 1)[-1].split("?")[0]
        # ARM's async reference: the properties a failed update changed are put back; the resource says Failed.
        after = client.get(CLUSTER, params=MONGO_API).json()
        assert after["properties"]["provisioningState"] == "Failed" and key_of(after) == "cmk"
        refused = client.get(accepted.headers["Location"])
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "KeyVaultAccessForbidden"
        # Once the grant has propagated, the same PATCH goes through.
        sandbox.offer.clock.sleep(300)
        again = client.patch(CLUSTER, params=MONGO_API, json=cmk("cmk2"))
        sandbox.offer.clock.sleep(60)
        assert client.get(again.headers["Azure-AsyncOperation"]).json()["status"] == "Succeeded"
        done = client.get(CLUSTER, params=MONGO_API).json()
        assert done["properties"]["provisioningState"] == "Succeeded" and key_of(done) == "cmk2"


def test_a_configured_failure_ends_the_chosen_operation_with_its_code_and_message(directory: Path) -> None:
    # The grant is usable at once here: the one failure is the configured one.
    write(directory / "faults.yaml", "realism: {grantPropagation: 0}\n"
                                     "failOperations:\n  - {method: PATCH, path: /mongoClusters/ORDERS, "
                                     "code: ClusterUpdateFailed, message: node 2 refused, times: 1}\n")
    with Sandbox(directory) as sandbox, client_for(sandbox) as client:
        grant_the_identity(client, sandbox)
        first = client.patch(CLUSTER, params=MONGO_API, json=cmk("cmk2"))
        second = client.patch(CLUSTER, params=MONGO_API, json=cmk("cmk2"))
        sandbox.offer.clock.sleep(60)
        # The first is the one chosen (times: 1); the second supersedes it and decides the cluster.
        assert client.get(first.headers["Azure-AsyncOperation"]).json()["error"] == {
            "code": "ClusterUpdateFailed", "message": "node 2 refused"}
        assert client.get(second.headers["Azure-AsyncOperation"]).json()["status"] == "Succeeded"
        assert key_of(client.get(CLUSTER, params=MONGO_API).json()) == "cmk2"


@pytest.mark.nonconforming("the vault ends provisioningState Failed, which Key Vault's definition does not list")
def test_a_vault_create_that_fails_ends_provisioning_failed(tmp_path: Path) -> None:
    write(tmp_path / "sb" / "faults.yaml", "failOperations:\n  - {method: PUT, path: /vaults/kv-lost, code: C, "
                                           "message: M}\n")
    with Sandbox(tmp_path / "sb") as sandbox, client_for(sandbox) as client:
        body = vault_body(sandbox.state["graph"]["tenantId"])
        created = client.put(vault_path("kv-lost"), params=API, json=body)
        assert created.json()["properties"]["provisioningState"] == "RegisteringDns"
        sandbox.offer.clock.sleep(operations.FAILS_AFTER)
        assert client.get(vault_path("kv-lost"), params=API).json()["properties"]["provisioningState"] == "Failed"
    # The failures are configured afresh at each start: without faults.yaml, none.
    (tmp_path / "sb" / "faults.yaml").unlink()
    with Sandbox(tmp_path / "sb") as sandbox:
        assert "operationFaults" not in sandbox.state["arm"]
