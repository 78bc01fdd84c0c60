"""Contract: user-assigned identities and Mongo vCore clusters against the sandbox's ARM."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest

from cmkctl_sandbox import realism
from reconciler.core.errors import ProviderError
from reconciler.core.secrets import Secret
from reconciler.engine.diff import choose_action
from reconciler.plan.model import Action
from reconciler.providers.azure_mongo import cluster_create_body, cluster_patch_body
from reconciler.providers.registry import Handlers
from reconciler.systems.identities import AZURE_USER_ASSIGNED_IDENTITY, identity_resource_id
from reconciler.systems.mongo import MONGO_CLUSTER
from tests.emulated import bearer, http_client

from .canary import assert_no_canary
from .conftest import RESOURCE_GROUP, SUBSCRIPTION

PASSWORD = "canary-mongo-password-8c2d"
ROLE = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/" \
       "e147488a-f6f5-4113-8e2d-b22465e65bf6"
VAULT_SCOPE = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.KeyVault/vaults/kv-mongo"
CLUSTER = {"subscriptionId": SUBSCRIPTION, "resourceGroup": RESOURCE_GROUP, "name": "orders"}
KEY_URL = "https://kv-mongo.vault.azure.net/keys/cmk"
KEYS = [{"name": "cmk", "kty": "RSA", "keySize": 3072}, {"name": "cmk2", "kty": "RSA", "keySize": 3072}]
# New identities are granted at once here: no replication lag (tests/test_identity_lag.py has it).
WORLD = {"azure": {"replicationLag": {"seconds": 0}, "vaults": [{"subscription": SUBSCRIPTION, "resourceGroup": RESOURCE_GROUP, "name": "kv-mongo",
                               "location": "eastus", "enablePurgeProtection": True, "enableRbacAuthorization": True,
                               "keys": KEYS}]}}
# The operations' own lags on, the others off: how long a write runs is what these tests watch.
CREATE_SECONDS = realism.DEFAULTS[realism.MONGO_CLUSTER_CREATE]
UPDATE_SECONDS = realism.DEFAULTS[realism.MONGO_CLUSTER_UPDATE]
OPERATIONS_TAKE_TIME = {realism.MONGO_CLUSTER_CREATE: CREATE_SECONDS, realism.MONGO_CLUSTER_UPDATE: UPDATE_SECONDS}


def identity_of(name: str) -> dict[str, str]:
    return {"subscriptionId": SUBSCRIPTION, "resourceGroup": RESOURCE_GROUP, "name": name}


def cmk(identity_name: str, url: str = KEY_URL) -> dict[str, Any]:
    return {"keyEncryptionKeyIdentity": {"identityType": "UserAssignedIdentity",
                                         "userAssignedIdentityResourceId": identity_resource_id(
                                             SUBSCRIPTION, RESOURCE_GROUP, identity_name)},
            "keyEncryptionKeyUrl": url}


def cluster_attributes(identity_name: str, url: str = KEY_URL) -> dict[str, Any]:
    return {"location": "eastus", "encryptionMode": "CustomerManagedKey",
            "customerManagedKeyEncryption": cmk(identity_name, url), "tags": {"managed-by": "cmkctl"},
            "administrator": {"userName": "mongoAdmin"},
            "administratorPassword": {"env": "CMKCTL_TEST_MONGO_PASSWORD", "sensitive": True},
            "compute": {"tier": "M30"}, "storage": {"sizeGb": 32}, "highAvailability": {"targetMode": "Disabled"}}


def new_identity(handlers: Handlers, name: str, *, granted: bool = True) -> dict[str, Any]:
    created = handlers.by_kind["azure_user_assigned_identity"].create(
        identity=identity_of(name), attributes={"location": "eastus", "tags": {}})
    if granted:
        handlers.by_kind["azure_role_assignment"].create(
            identity={"scope": VAULT_SCOPE, "roleDefinitionId": ROLE, "principalId": created["principalId"]},
            attributes={"principalType": "ServicePrincipal"})
    return created


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMKCTL_TEST_MONGO_PASSWORD", PASSWORD)


# ---------------------------------------------------------------------------------------------
# identities


def test_identity_is_created_read_and_a_service_principal(handlers: Handlers, sandbox: Any, tenant_id: str) -> None:
    identities = handlers.by_kind["azure_user_assigned_identity"]
    assert identities.read(identity=identity_of("id1")) is None
    created = identities.create(identity=identity_of("id1"), attributes={"location": "eastus", "tags": {"a": "b"}})
    assert created["tenantId"] == tenant_id and created["location"] == "eastus"
    assert created["principalId"] and created["clientId"] and created["id"].endswith("/userAssignedIdentities/id1")
    assert identities.read(identity=identity_of("id1")) == created
    principal = sandbox.state["graph"]["servicePrincipals"][created["principalId"]]
    assert principal["servicePrincipalType"] == "ManagedIdentity" and principal["appId"] == created["clientId"]


def test_identity_create_is_not_long_running(handlers: Handlers, sandbox: Any) -> None:
    new_identity(handlers, "id1", granted=False)
    puts = [c for c in sandbox.calls() if "userAssignedIdentities" in c["path"]]
    assert [(c["method"], c["status"]) for c in puts] == [("PUT", 201)]


def test_identity_in_another_region_is_forbidden(handlers: Handlers) -> None:
    live = new_identity(handlers, "id1", granted=False)
    decision = choose_action(AZURE_USER_ASSIGNED_IDENTITY, {"location": "westus2", "tenantId": live["tenantId"]},
                             live)
    assert decision.action is Action.FORBIDDEN and "another region" in decision.reason


# ---------------------------------------------------------------------------------------------
# clusters


@pytest.mark.world(WORLD)
@pytest.mark.lags(**OPERATIONS_TAKE_TIME)
def test_cluster_created_with_identity_and_key(handlers: Handlers, sandbox: Any) -> None:
    new_identity(handlers, "id1")
    clusters = handlers.by_kind["mongo_cluster"]
    assert clusters.read(identity=CLUSTER) is None
    created = clusters.create(identity=CLUSTER, attributes=cluster_attributes("id1"))
    assert created["encryptionMode"] == "CustomerManagedKey"
    assert created["customerManagedKeyEncryption"] == cmk("id1")
    assert identity_resource_id(SUBSCRIPTION, RESOURCE_GROUP, "id1").lower() in created["userAssignedIdentities"]
    assert clusters.read(identity=CLUSTER)["provisioningState"] == "Succeeded"
    assert choose_action(MONGO_CLUSTER, cluster_attributes("id1"), clusters.read(identity=CLUSTER)).action \
        is Action.NOOP
    # The creating PUT is a long-running operation, polled through Azure-AsyncOperation at once then every
    # 30 s (the SDK's interval: the service sends no Retry-After) until the operation's time is over.
    calls = [(c["method"], c["status"], c["path"].split("/")[-2]) for c in sandbox.calls() if "DocumentDB" in c["path"]]
    put = calls.index(("PUT", 201, "mongoClusters"))
    polls = [call for call in calls[put + 1:] if call[2] == "mongoClusterAzureAsyncOperation"]
    assert len(polls) == math.ceil(CREATE_SECONDS / 30) + 1 and calls[put + 1:put + 1 + len(polls)] == polls
    assert PASSWORD not in str(sandbox.state)


@pytest.mark.world(WORLD)
def test_new_key_is_one_patch_with_identity_and_key(handlers: Handlers, sandbox: Any) -> None:
    new_identity(handlers, "id1")
    new_identity(handlers, "id2")
    clusters = handlers.by_kind["mongo_cluster"]
    live = clusters.create(identity=CLUSTER, attributes=cluster_attributes("id1"))
    wanted = cluster_attributes("id2", KEY_URL + "2")
    decision = choose_action(MONGO_CLUSTER, wanted, live)
    assert decision.action is Action.UPDATE and [c.name for c in decision.changes] == ["customerManagedKeyEncryption"]
    updated = clusters.update(identity=CLUSTER, attributes={"customerManagedKeyEncryption": wanted[
        "customerManagedKeyEncryption"]}, live=live)
    assert updated["customerManagedKeyEncryption"] == cmk("id2", KEY_URL + "2")
    assert identity_resource_id(SUBSCRIPTION, RESOURCE_GROUP, "id2").lower() in updated["userAssignedIdentities"]
    patches = [(c["method"], c["status"]) for c in sandbox.calls() if c["method"] == "PATCH"]
    assert patches == [("PATCH", 202)]


def test_patch_body_sends_identity_and_key_together() -> None:
    body = cluster_patch_body({"customerManagedKeyEncryption": cmk("id2")}, {"identity": {"type": "UserAssigned"}})
    resource_id = identity_resource_id(SUBSCRIPTION, RESOURCE_GROUP, "id2")
    assert body == {"identity": {"type": "UserAssigned", "userAssignedIdentities": {resource_id: {}}},
                    "properties": {"encryption": {"customerManagedKeyEncryption": cmk("id2")}}}
    kept = cluster_patch_body({"customerManagedKeyEncryption": cmk("id2")},
                              {"identity": {"type": "SystemAssigned"}})
    assert kept["identity"]["type"] == "SystemAssigned,UserAssigned"
    with pytest.raises(ProviderError, match="encryptionMode cannot change"):
        cluster_patch_body({"encryptionMode": "CustomerManagedKey"}, {})


def test_patch_body_keeps_the_identities_the_cluster_has() -> None:
    theirs, ours = (identity_resource_id(SUBSCRIPTION, RESOURCE_GROUP, name) for name in ("theirs", "id2"))
    current = {"identity": {"type": "UserAssigned", "userAssignedIdentities": {
        theirs: {"principalId": "p", "clientId": "c"}, ours.upper(): {"principalId": "q", "clientId": "d"}}}}
    body = cluster_patch_body({"customerManagedKeyEncryption": cmk("id2")}, current)
    assert body["identity"]["userAssignedIdentities"] == {theirs: {}, ours.upper(): {}}


def test_create_body_carries_the_password_only_on_the_wire() -> None:
    body = cluster_create_body(cluster_attributes("id1"), Secret(PASSWORD))
    assert body["properties"]["administrator"] == {"userName": "mongoAdmin", "password": PASSWORD}
    assert body["identity"]["type"] == "UserAssigned"
    assert "administratorPassword" not in str(body) and "sensitive" not in str(body)


@pytest.mark.world(WORLD)
def test_identity_must_exist(handlers: Handlers) -> None:
    with pytest.raises(ProviderError, match="UserAssignedIdentityNotFound") as excinfo:
        handlers.by_kind["mongo_cluster"].create(identity=CLUSTER, attributes=cluster_attributes("ghost"))
    assert_no_canary(excinfo)
    assert PASSWORD not in str(excinfo.value)


@pytest.mark.world(WORLD)
def test_identity_must_be_able_to_use_the_key(handlers: Handlers) -> None:
    new_identity(handlers, "id1", granted=False)
    with pytest.raises(ProviderError, match="KeyEncryptionKeyAccessDenied"):
        handlers.by_kind["mongo_cluster"].create(identity=CLUSTER, attributes=cluster_attributes("id1"))


@pytest.mark.world(WORLD)
def test_versioned_or_missing_key_is_refused(handlers: Handlers) -> None:
    new_identity(handlers, "id1")
    clusters = handlers.by_kind["mongo_cluster"]
    with pytest.raises(ProviderError, match="InvalidKeyEncryptionKeyUrl"):
        clusters.create(identity=CLUSTER, attributes=cluster_attributes("id1", KEY_URL + "/0a1b2c3d"))
    with pytest.raises(ProviderError, match="KeyEncryptionKeyNotFound"):
        clusters.create(identity=CLUSTER, attributes=cluster_attributes("id1", KEY_URL + "-missing"))


def test_missing_password_variable_names_the_variable(handlers: Handlers, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CMKCTL_TEST_MONGO_PASSWORD")
    with pytest.raises(ProviderError, match="CMKCTL_TEST_MONGO_PASSWORD"):
        handlers.by_kind["mongo_cluster"].create(identity=CLUSTER, attributes=cluster_attributes("id1"))


def test_cluster_without_create_settings_is_not_created(handlers: Handlers, sandbox: Any) -> None:
    attributes = {k: v for k, v in cluster_attributes("id1").items() if k not in ("administrator", "compute")}
    with pytest.raises(ProviderError, match="declares no `create` settings"):
        handlers.by_kind["mongo_cluster"].create(identity=CLUSTER, attributes=attributes)
    assert not [c for c in sandbox.calls() if c["mutating"]]


@pytest.mark.world({"azure": {"mongoClusters": [{"subscription": SUBSCRIPTION, "resourceGroup": RESOURCE_GROUP,
                                                 "name": "orders", "location": "East US"}]}})
def test_service_managed_cluster_cannot_switch(handlers: Handlers, sandbox: Any) -> None:
    clusters = handlers.by_kind["mongo_cluster"]
    live = clusters.read(identity=CLUSTER)
    assert live is not None and live["encryptionMode"] == "ServiceManagedKey" and live["location"] == "eastus"
    decision = choose_action(MONGO_CLUSTER, cluster_attributes("id1"), live)
    assert decision.action is Action.FORBIDDEN
    assert "replica" in decision.reason and "restore" in decision.reason
    # Even past the planner, the sandbox refuses, as the service does.
    new_identity(handlers, "id1", granted=False)
    with pytest.raises(ProviderError, match="EncryptionModeChangeNotSupported"):
        clusters.update(identity=CLUSTER, attributes={"customerManagedKeyEncryption": cmk("id1")}, live=live)


# ---------------------------------------------------------------------------------------------
# the sandbox's wire rules


def http(sandbox: Any) -> httpx.Client:
    return http_client(sandbox, bearer(sandbox), params={"api-version": "2026-06-01"})


CLUSTER_PATH = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.DocumentDB/" \
               "mongoClusters/orders"


@pytest.mark.world(WORLD)
@pytest.mark.lags(**OPERATIONS_TAKE_TIME)
def test_sandbox_wants_both_halves_and_an_attached_identity(handlers: Handlers, sandbox: Any) -> None:
    new_identity(handlers, "id1")
    live = handlers.by_kind["mongo_cluster"].create(identity=CLUSTER, attributes=cluster_attributes("id1"))
    assert live["encryptionMode"] == "CustomerManagedKey"
    new_identity(handlers, "id2")
    with http(sandbox) as client:
        only_key = {"properties": {"encryption": {"customerManagedKeyEncryption": {"keyEncryptionKeyUrl": KEY_URL}}}}
        refused = client.patch(CLUSTER_PATH, json=only_key)
        assert refused.status_code == 400 and "both" in refused.json()["error"]["message"]
        assert "Retry-After" not in refused.headers
        unattached = {"properties": {"encryption": {"customerManagedKeyEncryption": cmk("id2")}}}
        refused = client.patch(CLUSTER_PATH, json=unattached)
        assert refused.json()["error"]["code"] == "UserAssignedIdentityNotAttached"
        accepted = client.patch(CLUSTER_PATH, json={"identity": {"type": "UserAssigned", "userAssignedIdentities": {
            identity_resource_id(SUBSCRIPTION, RESOURCE_GROUP, "id2"): {}}}, **unattached})
        # As MongoClusters_PatchCMK.json answers: 202, no body, both headers; no Retry-After (the recording has none).
        assert accepted.status_code == 202 and not accepted.content
        assert "Retry-After" not in accepted.headers
        assert "mongoClusterAzureAsyncOperation" in accepted.headers["Azure-AsyncOperation"]
        assert client.get(accepted.headers["Azure-AsyncOperation"]).json()["status"] == "InProgress"
        running = client.get(accepted.headers["Location"])
        assert running.status_code == 202 and not running.content  # ARM's Location: 202 while it runs
        sandbox.offer.clock.sleep(UPDATE_SECONDS)
        assert client.get(accepted.headers["Azure-AsyncOperation"]).json()["status"] == "Succeeded"
        result = client.get(accepted.headers["Location"])
        assert result.json()["properties"]["encryption"]["customerManagedKeyEncryption"] == cmk("id2")
        assert "password" not in result.text
