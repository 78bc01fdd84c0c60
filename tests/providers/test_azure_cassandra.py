"""Contract: Cassandra clusters and data centers, and vault access policies, against the sandbox's ARM."""

from __future__ import annotations

import math
import os
from typing import Any

import pytest

from cmkctl_sandbox import realism
from reconciler.core.errors import ProviderError
from reconciler.engine.diff import choose_action
from reconciler.manifest.model import Accounts
from reconciler.plan.model import Action
from reconciler.providers.registry import Handlers
from reconciler.systems import PLUGINS
from reconciler.systems.access_policies import AZURE_ACCESS_POLICY
from reconciler.systems.cassandra import CASSANDRA_CLUSTER

from .canary import assert_no_canary
from .conftest import RESOURCE_GROUP, SUBSCRIPTION

COSMOS = "a232010e-820c-4083-83bb-3ace5fc29d0b"
COSMOS_OBJECT = "0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9"
VNET = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.Network/virtualNetworks/vnet"
CLUSTER = {"subscriptionId": SUBSCRIPTION, "resourceGroup": RESOURCE_GROUP, "name": "c1"}
DC = {"subscriptionId": SUBSCRIPTION, "resourceGroup": RESOURCE_GROUP, "cluster": "c1", "name": "dc1"}
CLUSTER_ATTRIBUTES = {"location": "eastus", "identityType": "SystemAssigned",
                      "delegatedManagementSubnetId": f"{VNET}/subnets/management", "cassandraVersion": "4.0",
                      "tags": {"managed-by": "cmkctl"}, "initialAdminPasswordFrom": {"env": "CMKCTL_TEST_PASSWORD"}}
PASSWORD = "canary-cassandra-password-1f3a"
# A cluster create's own lag on, the others off: how long it runs is what the create test watches.
CLUSTER_CREATE_SECONDS = realism.DEFAULTS[realism.CASSANDRA_CLUSTER_CREATE]


def world(*, purge_protection: bool = True, rbac: bool = False, identity: str = "SystemAssigned") -> dict[str, Any]:
    vault = {"subscription": SUBSCRIPTION, "resourceGroup": RESOURCE_GROUP, "name": "kv-cassandra",
             "location": "eastus", "enableRbacAuthorization": rbac,
             "keys": [{"name": "cmk", "kty": "RSA", "keySize": 3072}]}
    if purge_protection:
        vault["enablePurgeProtection"] = True
    return {"azure": {
        "vaults": [vault],
        "servicePrincipals": [{"appId": COSMOS, "objectId": COSMOS_OBJECT, "displayName": "Azure Cosmos DB"}],
        "roleAssignments": [{"scope": VNET, "role": "Network Contributor", "principalId": COSMOS_OBJECT}],
        "cassandraClusters": [{"subscription": SUBSCRIPTION, "resourceGroup": RESOURCE_GROUP, "name": "c1",
                               "location": "East US", "delegatedManagementSubnetId": f"{VNET}/subnets/management",
                               "identity": identity}],
    }}


def key_uri(sandbox: Any) -> str:
    key = sandbox.state["arm"]["vaults"]["kv-cassandra"]["keys"]["cmk"]
    return f"https://kv-cassandra.vault.azure.net/keys/cmk/{key['versions'][-1]['version']}"


def dc_attributes(uri: str) -> dict[str, Any]:
    return {"dataCenterLocation": "eastus", "delegatedSubnetId": f"{VNET}/subnets/dc1", "nodeCount": 3,
            "managedDiskCustomerKeyUri": uri, "backupStorageCustomerKeyUri": uri}


def policy_identity(tenant_id: str, object_id: str) -> dict[str, Any]:
    return {"subscriptionId": SUBSCRIPTION, "resourceGroup": RESOURCE_GROUP, "vault": "kv-cassandra",
            "tenantId": tenant_id, "objectId": object_id}


def grant_key_use(handlers: Handlers, tenant_id: str, principal: str) -> None:
    handlers.by_kind["azure_access_policy"].create(
        identity=policy_identity(tenant_id, principal),
        attributes={"keyPermissions": {"get": True, "wrapKey": True, "unwrapKey": True}})


def principal_of(handlers: Handlers) -> str:
    live = handlers.by_kind["cassandra_cluster"].read(identity=CLUSTER)
    assert live is not None
    principal: str = live["principalId"]
    return principal


# ---------------------------------------------------------------------------------------------
# clusters


@pytest.mark.world({"azure": {
    "servicePrincipals": [{"appId": COSMOS, "objectId": COSMOS_OBJECT}],
    "roleAssignments": [{"scope": VNET, "role": "Network Contributor", "principalId": COSMOS_OBJECT}]}})
@pytest.mark.lags(**{realism.CASSANDRA_CLUSTER_CREATE: CLUSTER_CREATE_SECONDS})
def test_a_created_cluster_has_a_system_assigned_identity_and_no_stored_password(
    handlers: Handlers, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CMKCTL_TEST_PASSWORD", PASSWORD)
    clusters = handlers.by_kind["cassandra_cluster"]
    assert clusters.read(identity=CLUSTER) is None
    created = clusters.create(identity=CLUSTER, attributes=CLUSTER_ATTRIBUTES)
    assert created["identityType"] == "SystemAssigned" and created["principalId"]
    assert created["provisioningState"] == "Succeeded"  # the poller waited out "Creating"
    assert clusters.read(identity=CLUSTER) == created
    assert choose_action(CASSANDRA_CLUSTER, CLUSTER_ATTRIBUTES, created).action is Action.NOOP
    assert PASSWORD not in (sandbox.directory / "state.json").read_text()
    calls = [(c["method"], c["path"].split("/")[-2]) for c in sandbox.calls()]
    put = calls.index(("PUT", "cassandraClusters"))
    # The create, its status polled at once then every 30 s (the SDK's interval: the service sends no
    # Retry-After) until the operation's time is over, the final GET, then the read: a list of the group.
    polls = calls[put + 1:-2]
    assert set(polls) == {("GET", "operationsStatus")} and len(polls) == math.ceil(CLUSTER_CREATE_SECONDS / 30) + 1
    assert calls[-2:] == [("GET", "cassandraClusters"), ("GET", "Microsoft.DocumentDB")]


def test_a_cluster_without_its_password_variable_is_not_created(
    handlers: Handlers, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CMKCTL_TEST_PASSWORD", raising=False)
    with pytest.raises(ProviderError, match="CMKCTL_TEST_PASSWORD") as excinfo:
        handlers.by_kind["cassandra_cluster"].create(identity=CLUSTER, attributes=CLUSTER_ATTRIBUTES)
    assert_no_canary(excinfo)
    assert not [c for c in sandbox.calls() if c["mutating"]]


def test_a_cluster_is_refused_without_network_contributor_for_cosmos_db(
    handlers: Handlers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CMKCTL_TEST_PASSWORD", PASSWORD)
    with pytest.raises(ProviderError, match="Network Contributor") as excinfo:
        handlers.by_kind["cassandra_cluster"].create(identity=CLUSTER, attributes=CLUSTER_ATTRIBUTES)
    assert PASSWORD not in str(excinfo.value)
    assert_no_canary(excinfo)


@pytest.mark.world(world(identity="None"))
def test_an_existing_cluster_gets_its_identity_by_update(handlers: Handlers, sandbox: Any) -> None:
    clusters = handlers.by_kind["cassandra_cluster"]
    live = clusters.read(identity=CLUSTER)
    assert live is not None and live["identityType"] == "None" and "principalId" not in live
    assert live["location"] == "eastus"  # ARM's "East US", as manifests spell it
    updated = clusters.update(identity=CLUSTER, attributes={"identityType": "SystemAssigned"}, live=live)
    assert updated["identityType"] == "SystemAssigned" and updated["principalId"]
    assert [c["method"] for c in sandbox.calls() if c["mutating"]] == ["PATCH"]
    principal = sandbox.state["graph"]["servicePrincipals"][updated["principalId"]]
    assert principal["servicePrincipalType"] == "ManagedIdentity"


# ---------------------------------------------------------------------------------------------
# data centers


@pytest.mark.world(world())
def test_a_data_center_takes_the_versioned_key_uri(handlers: Handlers, sandbox: Any, tenant_id: str) -> None:
    grant_key_use(handlers, tenant_id, principal_of(handlers))
    centers = handlers.by_kind["cassandra_data_center"]
    attributes = dc_attributes(key_uri(sandbox))
    created = centers.create(identity=DC, attributes=attributes)
    assert {name: created[name] for name in attributes} == attributes
    assert centers.read(identity=DC) == created


@pytest.mark.world(world(purge_protection=False))
def test_a_data_center_with_a_key_from_a_vault_without_purge_protection_fails(
    handlers: Handlers, sandbox: Any, tenant_id: str
) -> None:
    grant_key_use(handlers, tenant_id, principal_of(handlers))
    with pytest.raises(ProviderError, match="Datacenter deployments will fail without it") as excinfo:
        handlers.by_kind["cassandra_data_center"].create(identity=DC, attributes=dc_attributes(key_uri(sandbox)))
    assert_no_canary(excinfo)
    assert handlers.by_kind["cassandra_data_center"].read(identity=DC) is None


@pytest.mark.world(world())
def test_a_data_center_is_refused_until_the_identity_may_use_the_key(handlers: Handlers, sandbox: Any) -> None:
    with pytest.raises(ProviderError, match="cannot get, wrap and unwrap"):
        handlers.by_kind["cassandra_data_center"].create(identity=DC, attributes=dc_attributes(key_uri(sandbox)))


@pytest.mark.world(world(rbac=True))
def test_on_an_rbac_vault_a_key_role_lets_the_identity_use_the_key(handlers: Handlers, sandbox: Any) -> None:
    principal = principal_of(handlers)
    vault_scope = sandbox.state["arm"]["vaults"]["kv-cassandra"]["resource"]["id"]
    handlers.by_kind["azure_role_assignment"].create(
        identity={"scope": vault_scope, "principalId": principal, "roleDefinitionId":
                  f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
                  "e147488a-f6f5-4113-8e2d-b22465e65bf6"},
        attributes={"principalType": "ServicePrincipal"})
    created = handlers.by_kind["cassandra_data_center"].create(identity=DC, attributes=dc_attributes(key_uri(sandbox)))
    assert created["provisioningState"] == "Succeeded"


@pytest.mark.world(world())
def test_a_versionless_key_uri_is_refused(handlers: Handlers, sandbox: Any, tenant_id: str) -> None:
    grant_key_use(handlers, tenant_id, principal_of(handlers))
    with pytest.raises(ProviderError, match="versioned key identifier"):
        handlers.by_kind["cassandra_data_center"].create(
            identity=DC, attributes=dc_attributes("https://kv-cassandra.vault.azure.net/keys/cmk"))


@pytest.mark.world(world())
def test_rotation_is_a_data_center_update_with_only_the_new_uris(
    handlers: Handlers, sandbox: Any, tenant_id: str
) -> None:
    from cmkctl_sandbox.rotation import rotate_key

    grant_key_use(handlers, tenant_id, principal_of(handlers))
    centers = handlers.by_kind["cassandra_data_center"]
    live = centers.create(identity=DC, attributes=dc_attributes(key_uri(sandbox)))
    sandbox.stop()
    new_uri = rotate_key(sandbox.directory, "kv-cassandra", "cmk")
    sandbox.start()
    rotated = {"managedDiskCustomerKeyUri": new_uri, "backupStorageCustomerKeyUri": new_uri}
    with handlers_for_restarted(sandbox) as fresh:
        updated = fresh.by_kind["cassandra_data_center"].update(identity=DC, attributes=rotated, live=live)
    assert {name: updated[name] for name in rotated} == rotated
    assert [c["method"] for c in sandbox.calls() if c["mutating"]][-1] == "PATCH"


def handlers_for_restarted(sandbox: Any) -> Any:
    from reconciler.providers.registry import build_handlers
    from tests.emulated import connection_to

    return build_handlers(connection_to(sandbox), Accounts(azure_subscription_id=SUBSCRIPTION), PLUGINS,
                          variables=os.environ)


# ---------------------------------------------------------------------------------------------
# access policies


@pytest.mark.world(world())
def test_access_policy_permissions_compare_as_a_set_of_the_declared_ones(
    handlers: Handlers, tenant_id: str
) -> None:
    policies = handlers.by_kind["azure_access_policy"]
    identity = policy_identity(tenant_id, COSMOS_OBJECT)
    declared = {"keyPermissions": {"get": True, "wrapKey": True, "unwrapKey": True}}
    assert policies.read(identity=identity) is None
    policies.create(identity=identity, attributes={"keyPermissions": {"get": True, "list": True}})
    live = policies.read(identity=identity)
    assert live == {"keyPermissions": {"get": True, "list": True}}
    decision = choose_action(AZURE_ACCESS_POLICY, declared, live)
    assert decision.action is Action.UPDATE
    updated = policies.update(identity=identity, attributes=declared, live=live)
    # `add` merged: what someone else granted (list) stays, and the declared set is now held.
    assert updated == {"keyPermissions": {"get": True, "list": True, "unwrapKey": True, "wrapKey": True}}
    assert choose_action(AZURE_ACCESS_POLICY, declared, updated).action is Action.NOOP


def test_an_access_policy_on_a_missing_vault_reads_as_none(handlers: Handlers, tenant_id: str) -> None:
    assert handlers.by_kind["azure_access_policy"].read(identity=policy_identity(tenant_id, COSMOS_OBJECT)) is None


def test_an_access_policy_for_a_principal_not_yet_created_reads_as_none(handlers: Handlers, tenant_id: str) -> None:
    from reconciler.plan.model import Unknown

    identity = {**policy_identity(tenant_id, COSMOS_OBJECT), "objectId": Unknown("cassandra_cluster.x.c1", "principalId")}
    assert handlers.by_kind["azure_access_policy"].read(identity=identity) is None
