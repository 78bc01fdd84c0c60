"""The real Azure SDK clients talk to the sandbox unchanged but for base URL, CA and the credential it issued."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.keyvault.models import (
    KeyCreateParameters,
    KeyProperties,
    Sku,
    VaultCreateOrUpdateParameters,
    VaultProperties,
)

from cmkctl_sandbox import Sandbox
from reconciler.providers.transport import azure_transport
from tests.sandbox.conftest import RG, SUB, client_for

CRYPTO_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"


def keyvault_client(sandbox: Sandbox) -> KeyVaultManagementClient:
    return KeyVaultManagementClient(
        sandbox.issued.azure_credential(),
        SUB,
        base_url=sandbox.endpoints.arm,
        # The SDK's own polling interval, waited on the emulator's clock: no real wait.
        transport=azure_transport(clock=sandbox.offer.clock, routes=(), ca_bundle=sandbox.endpoints.ca_bundle),
    )


@pytest.mark.lags(vaultCreate=19)
def test_keyvault_sdk_creates_vault_and_key(sandbox: Sandbox) -> None:
    client = keyvault_client(sandbox)
    parameters = VaultCreateOrUpdateParameters(
        location="eastus",
        properties=VaultProperties(
            tenant_id=sandbox.state["graph"]["tenantId"],
            sku=Sku(family="A", name="standard"),
            enable_rbac_authorization=True,
            enable_purge_protection=True,
        ),
    )
    vault = client.vaults.begin_create_or_update(RG, "kv-sdk", parameters).result()
    assert vault.properties.provisioning_state == "Succeeded"
    assert vault.properties.vault_uri == "https://kv-sdk.vault.azure.net/"
    key = client.keys.create_if_not_exist(
        RG, "kv-sdk", "cmk", KeyCreateParameters(properties=KeyProperties(kty="RSA", key_size=3072))
    )
    assert key.properties.key_uri == "https://kv-sdk.vault.azure.net/keys/cmk"
    methods = [(c["method"], c["status"]) for c in sandbox.calls()]
    # The create registers the vault's DNS name for some 19 s: the SDK's first poll, at once, sees
    # RegisteringDns, the next, after its 30 s interval, Succeeded.
    assert methods == [("PUT", 200), ("GET", 200), ("GET", 200), ("PUT", 200)]


@pytest.mark.lags(principalReplication=1)
def test_authorization_sdk_creates_role_assignment(sandbox: Sandbox) -> None:
    with client_for(sandbox) as http:
        principal = http.post("/v1.0/servicePrincipals", json={"appId": str(uuid.uuid4())}).json()["id"]
    assert sandbox.state["graph"]["replication"]["visibleAt"][principal] > 0
    client = AuthorizationManagementClient(
        sandbox.issued.azure_credential(), SUB, base_url=sandbox.endpoints.arm,
        connection_verify=sandbox.endpoints.ca_bundle
    )
    scope = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.KeyVault/vaults/kv-any"
    parameters = RoleAssignmentCreateParameters(
        role_definition_id=f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{CRYPTO_USER}",
        principal_id=principal,
        principal_type="ServicePrincipal",
    )
    name = str(uuid.uuid4())
    with pytest.raises(HttpResponseError) as lagging:  # the first attempt meets the replication lag
        client.role_assignments.create(scope, name, parameters)
    assert lagging.value.status_code == 400
    assert lagging.value.error is not None and lagging.value.error.code == "PrincipalNotFound"
    sandbox.offer.clock.sleep(1)  # the principal lag the test turned on, in the emulator's time
    created = client.role_assignments.create(scope, name, parameters)
    assert created.principal_id == principal and created.scope == scope
