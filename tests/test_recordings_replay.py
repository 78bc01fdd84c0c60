"""Responses recorded against live Azure, replayed through the providers' read paths.

The sandbox was written from the same understanding as the providers; these answers were not. Each
test serves recorded bodies (verbatim; a single recorded GET is served as the one entry of the list
cmkctl reads instead) and checks what cmkctl makes of them: no crash, the right live values, and
no change planned against a manifest that declares what the recording holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.engine import expand
from reconciler.engine.diff import choose_action
from reconciler.manifest.loader import load_one
from reconciler.manifest.model import Accounts
from reconciler.plan.model import Action
from reconciler.providers.base import Connection
from reconciler.providers.registry import Handlers, build_handlers
from reconciler.systems import PLUGINS
from tests.conftest import write
from tests.replay import ReplayDispatcher, find, load, replaying

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
VAULTS = "azure-mgmt-keyvault__test_vaults.test_vaults_operations.yaml"
DOTNET_VAULT = "Azure.ResourceManager.KeyVault__KeyVaultManagementVaultCreateUpdateDelete.json"
ASSIGNMENT = "azure-mgmt-authorization__test_cli_mgmt_authorization.test_role_assignment_by_id.yaml"
IDENTITY = "azure-mgmt-msi__test_cli_mgmt_msi.test_msi.yaml"
SERVICE_PRINCIPALS = "azure-cli-role__test_service_principal_scenario.yaml"
MONGO = "azure-mgmt-mongocluster__test_cli_mgmt_mongocluster_lro.pyTestMgmtMongoClustertest_get_mongo_clusters.json"


@pytest.fixture
def replay(tmp_path: Path) -> Iterator[tuple[ReplayDispatcher, Connection]]:
    with replaying(tmp_path) as served:
        yield served


def handlers_for(connection: Connection, subscription: str = SUBSCRIPTION) -> Any:
    return build_handlers(connection, Accounts(azure_subscription_id=subscription), PLUGINS)


def declared(tmp_path: Path, manifest: str, address: str) -> Any:
    """The resource a manifest expands to, as the planner compares it."""
    key_set, _ = load_one([str(write(tmp_path / "recorded.yaml", manifest))], plugins=PLUGINS)
    return next(r for r in expand.resources(key_set, {}, PLUGINS) if r.address == address)


def read_back(handlers: Handlers, resource: Any) -> Any:
    return handlers.by_kind[resource.kind].read(identity=resource.identity)


RECORDED_VAULT_MANIFEST = """
apiVersion: cmkctl/v1
kind: KeySet
metadata: {name: recorded}
accounts:
  azure: {tenantId: 6819f86e-5d41-47b0-9297-334f33d7922d, subscriptionId: 00000000-0000-0000-0000-000000000000}
regions:
  - name: westus
    cloud: azure
    vaults:
      - {name: pykvf9870e4e, resourceGroup: test_vaults_test_vaults_operationsf9870e4e, purgeProtection: false,
         authorization: accessPolicies, trustedServicesBypass: true}
"""


def test_a_recorded_vault_without_retention_rbac_or_network_rules_plans_no_change(
    replay: tuple[ReplayDispatcher, Connection], tmp_path: Path
) -> None:
    dispatcher, connection = replay
    recorded = load(VAULTS)
    listed, second_page = find(recorded, "GET", "/vaults"), find(recorded, "GET", "/vaults", index=1)
    dispatcher.answer("GET", listed.path, 200, listed.body)
    dispatcher.answer("GET", listed.path, 200, second_page.body, next_page=True)
    vault = declared(tmp_path, RECORDED_VAULT_MANIFEST, "azure_vault.westus.pykvf9870e4e")
    with handlers_for(connection) as handlers:
        live = read_back(handlers, vault)
    assert live == {
        "location": "westus", "tenantId": "6819f86e-5d41-47b0-9297-334f33d7922d", "sku": "standard",
        "enableRbacAuthorization": False, "enablePurgeProtection": False, "softDeleteRetentionInDays": 90,
        "networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow"}, "tags": {},
        "id": listed.body["value"][0]["id"], "vaultUri": "https://pykvf9870e4e.vault.azure.net",
        "enableSoftDelete": True,
    }
    assert choose_action(PLUGINS.kinds["azure_vault"], vault.attributes, live).action is Action.NOOP
    assert any("$skiptoken" in r.query for r in dispatcher.requests)  # the nextLink was followed
    assert dispatcher.unanswered == []


def test_a_recorded_vault_with_network_rules_and_short_retention_reads_as_recorded(
    replay: tuple[ReplayDispatcher, Connection],
) -> None:
    dispatcher, connection = replay
    recorded = load(DOTNET_VAULT)
    got = find(recorded, "GET", "/vaults/sdktest-vault-5553", index=6)  # after RegisteringDns: Succeeded
    assert got.body["properties"]["provisioningState"] == "Succeeded"
    dispatcher.answer("GET", got.path.rsplit("/", 1)[0], 200, {"value": [got.body]})
    subscription, group = got.path.split("/")[2], got.path.split("/")[4]
    identity = {"subscriptionId": subscription, "resourceGroup": group, "name": "sdktest-vault-5553"}
    with handlers_for(connection, subscription) as handlers:
        live = handlers.by_kind["azure_vault"].read(identity=identity)
    assert live is not None
    assert (live["location"], live["sku"], live["softDeleteRetentionInDays"]) == ("canadacentral", "standard", 7)
    assert live["networkAcls"] == {"bypass": "AzureServices", "defaultAction": "Allow"}
    assert live["tags"] == {"tag1": "value1", "tag2": "value2", "tag3": "value3"}
    # Made with api-version 2023-02-01 and access policies, it carries no enableRbacAuthorization: an
    # access-policy vault, as a vault that does not say is (the 2026-05-15 getVault example answers so).
    assert live["enableRbacAuthorization"] is False
    assert dispatcher.unanswered == []


def test_a_recorded_role_assignment_is_found_in_its_scopes_list(
    replay: tuple[ReplayDispatcher, Connection],
) -> None:
    dispatcher, connection = replay
    got = find(load(ASSIGNMENT), "GET", "/roleAssignments/88888888-7000-0000-0000-000000000003")
    properties = got.body["properties"]
    listing = f"{properties['scope']}/providers/Microsoft.Authorization/roleAssignments"
    dispatcher.answer("GET", listing, 200, {"value": [got.body]})
    identity = {"scope": properties["scope"], "roleDefinitionId": properties["roleDefinitionId"],
                "principalId": properties["principalId"]}
    with handlers_for(connection) as handlers:
        live = handlers.by_kind["azure_role_assignment"].read(identity=identity)
    assert live == {"principalType": "ServicePrincipal", "id": got.body["id"], "name": got.body["name"]}
    assert [r.query.get("$filter") for r in dispatcher.requests] == ["atScope()"]
    assert dispatcher.unanswered == []


def test_a_recorded_user_assigned_identity_reads_with_its_ids(replay: tuple[ReplayDispatcher, Connection]) -> None:
    dispatcher, connection = replay
    got = find(load(IDENTITY), "GET", "/userAssignedIdentities/useridentityname")
    dispatcher.answer("GET", got.path.rsplit("/", 1)[0], 200, {"value": [got.body]})
    group = got.path.split("/")[4]
    identity = {"subscriptionId": SUBSCRIPTION, "resourceGroup": group, "name": "useridentityname"}
    with handlers_for(connection) as handlers:
        live = handlers.by_kind["azure_user_assigned_identity"].read(identity=identity)
    assert live is not None
    assert (live["location"], live["principalId"], live["clientId"]) == (
        "eastus", got.body["properties"]["principalId"], got.body["properties"]["clientId"])
    declared_attributes = {"location": "eastus", "tags": got.body["tags"]}
    assert choose_action(PLUGINS.kinds["azure_user_assigned_identity"], declared_attributes, live).action is Action.NOOP
    assert dispatcher.unanswered == []


def test_recorded_service_principals_read_by_app_id_and_as_absent(replay: tuple[ReplayDispatcher, Connection]) -> None:
    dispatcher, connection = replay
    recorded = load(SERVICE_PRINCIPALS)
    listed = find(recorded, "GET", "/v1.0/servicePrincipals")
    entity = find(recorded, "GET", "/v1.0/servicePrincipals/45e0a0cf-92d7-4ea9-8a44-0e84fae7aa74")
    missing = find(recorded, "GET", "/v1.0/servicePrincipals/5a512f68-af7f-4e8b-b7d4-19f3ea7372db", status=404)
    app_id, gone = entity.body["appId"], "0b6a4d3e-1111-4c2a-9d0e-5a512f68af7f"
    dispatcher.answer("GET", "/v1.0/servicePrincipals", 200, listed.body)
    dispatcher.answer("GET", f"/v1.0/servicePrincipals(appId='{app_id}')", 200, entity.body)
    dispatcher.answer("GET", f"/v1.0/servicePrincipals(appId='{gone}')", 404, missing.body)
    with handlers_for(connection) as handlers:
        principals = handlers.by_kind["azuread_service_principal"]
        principals.prefetch(identities=[{"appId": app_id}])
        looked_up = principals.read(identity={"appId": app_id})
    with handlers_for(connection) as handlers:
        read_alone = handlers.by_kind["azuread_service_principal"].read(identity={"appId": app_id})
        absent = handlers.by_kind["azuread_service_principal"].read(identity={"appId": gone})
    assert looked_up == read_alone == {"appId": app_id, "objectId": "45e0a0cf-92d7-4ea9-8a44-0e84fae7aa74"}
    assert absent is None
    assert dispatcher.unanswered == []


def test_a_recorded_missing_mongo_cluster_reads_as_absent(replay: tuple[ReplayDispatcher, Connection]) -> None:
    dispatcher, connection = replay
    got = find(load(MONGO), "GET", "/mongoClusters/mymongocluster", status=404)
    dispatcher.answer("GET", got.path.rsplit("/", 1)[0], 404, got.body)
    identity = {"subscriptionId": SUBSCRIPTION, "resourceGroup": "rgname", "name": "mymongocluster"}
    with handlers_for(connection) as handlers:
        assert handlers.by_kind["mongo_cluster"].read(identity=identity) is None
    assert dispatcher.unanswered == []
