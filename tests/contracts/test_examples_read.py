"""Direction (a): each published example's response served to the provider's read path.

Every x-ms-examples file copied under `examples/` (vendor_examples.copied()) is served over loopback
HTTPS to the real handler or inventory function cmkctl uses for its operation, on a connection built as
a run builds it (endpoints, CA, host mapping, credential, clock: tests/replay.py). For each: no crash,
the fields cmkctl reads are the example's (`expected`, taken from the example by the definition's
documented meaning and defaults, not by cmkctl's own reading), and a declared resource that matches the
example plans no change. The answer of a PUT or PATCH served is the operation's final one (its 200, or
its 201), completing at once: how the long-running channel is polled is the emulator's business, not
the read path's. Confluent's inline examples are its error envelopes: each must reach the user as an
error naming the service's detail, never as a crash.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.errors import CmkError, CredentialError, TransientError
from reconciler.engine.diff import choose_action
from reconciler.manifest.model import Accounts
from reconciler.plan.model import Action
from reconciler.providers.azure_authorization import assignment_name
from reconciler.providers.base import Connection
from reconciler.providers.inventory import inventory
from reconciler.providers.registry import Handlers, build_handlers
from reconciler.systems import PLUGINS
from tests.contracts import vendor_examples
from tests.contracts.example_fields import (
    assignment_says,
    canonical_policy,
    cassandra_cluster_says,
    data_center_says,
    identity_says,
    key_says,
    location_name,
    mongo_says,
    vault_declared,
    vault_says,
)
from tests.contracts.example_results import marks
from tests.contracts.vendor_examples import Example, InlineExample
from tests.replay import ReplayDispatcher, replaying


@dataclass(frozen=True)
class Read:
    """What a provider made of an example: the live state, what the example says it should be, and the
    declared attributes that match the example (None where cmkctl only lists, for export and the
    unmanaged report)."""

    kind: str
    live: dict[str, Any]
    expected: dict[str, Any]
    declared: dict[str, Any] | None


@dataclass(frozen=True)
class Served:
    dispatcher: ReplayDispatcher
    connection: Connection
    monkeypatch: pytest.MonkeyPatch

    def handlers(self, subscription: str) -> Handlers:
        # The environment the test sets the example's password in, as the front end's settings would hold it.
        return build_handlers(self.connection, Accounts(azure_subscription_id=subscription), PLUGINS,
                              variables=os.environ)


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    with replaying(tmp_path) as (dispatcher, connection):
        yield Served(dispatcher, connection, monkeypatch)


def _path(template: str, parameters: dict[str, Any]) -> str:
    """The request path of an example: its template with the example's own parameter values."""
    path = template
    for name, value in parameters.items():
        path = path.replace("{" + name + "}", str(value).lstrip("/") if name == "scope" else str(value))
    return path


def _page_after(served: Served, body: Any) -> None:
    """A list whose nextLink the client follows gets an empty next page at that link's path."""
    link = body.get("nextLink") if isinstance(body, dict) else None
    if link:
        path = "/" + link.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]
        served.dispatcher.answer("GET", path, 200, {"value": []}, next_page=True)


def _serve_list(served: Served, path: str, body: Any) -> None:
    served.dispatcher.answer("GET", path, 200, body)
    _page_after(served, body)


def _group_of(resource_id: str) -> tuple[str, str]:
    parts = resource_id.split("/")
    return parts[2], parts[4]


# ---------------------------------------------------------------------------------------------
# Key Vault: vaults, access policies, keys, rotation policies


def read_vault_list(example: Example, served: Served) -> Read:
    body = example.body(200)
    vault = body["value"][0]
    subscription, group = _group_of(vault["id"])
    _serve_list(served, _path(example.template, example.parameters), body)
    with served.handlers(subscription) as handlers:
        live = handlers.by_kind["azure_vault"].read(
            identity={"subscriptionId": subscription, "resourceGroup": group, "name": vault["name"]})
    says = vault_says(vault)
    return Read("azure_vault", live or {}, says, vault_declared(says))


def read_subscription_vaults(example: Example, served: Served) -> Read:
    body = example.body(200)
    subscription = example.parameters["subscriptionId"]
    _serve_list(served, _path(example.template, example.parameters), body)
    with inventory(served.connection, Accounts(azure_subscription_id=subscription), PLUGINS) as listed:
        found = {v["name"]: v for v in listed.all_vaults()}
    vault = body["value"][0]
    says = {**vault_says(vault), "name": vault["name"], "resourceGroup": _group_of(vault["id"])[1]}
    return Read("azure_vault", found[vault["name"]], says, vault_declared(says))


def read_vault(example: Example, served: Served) -> Read:
    """A single vault's answer (a GET, or a write's final answer) read as its group's list holds it."""
    vault = example.final
    subscription, group = _group_of(vault["id"])
    served.dispatcher.answer("GET", vault["id"].rsplit("/", 1)[0], 200, {"value": [vault]})
    with served.handlers(subscription) as handlers:
        live = handlers.by_kind["azure_vault"].read(
            identity={"subscriptionId": subscription, "resourceGroup": group, "name": vault["name"]})
    says = vault_says(vault)
    return Read("azure_vault", live or {}, says, vault_declared(says))


def create_vault(example: Example, served: Served) -> Read:
    vault = example.final
    subscription, group = _group_of(vault["id"])
    served.dispatcher.answer("PUT", vault["id"], 200, vault)
    sent = example.parameters["parameters"]
    attributes = {"location": sent["location"], "tenantId": sent["properties"]["tenantId"],
                  "sku": sent["properties"]["sku"]["name"], "enableRbacAuthorization": False}
    with served.handlers(subscription) as handlers:
        live = handlers.by_kind["azure_vault"].create(
            identity={"subscriptionId": subscription, "resourceGroup": group, "name": vault["name"]},
            attributes=attributes)
    says = vault_says(vault)
    return Read("azure_vault", live, says, vault_declared(says))


def update_vault(example: Example, served: Served) -> Read:
    vault = example.final
    subscription, group = _group_of(vault["id"])
    served.dispatcher.answer("GET", vault["id"], 200, vault)
    served.dispatcher.answer("PATCH", vault["id"], 200, vault)
    identity = {"subscriptionId": subscription, "resourceGroup": group, "name": vault["name"]}
    with served.handlers(subscription) as handlers:
        live = handlers.by_kind["azure_vault"].update(identity=identity, attributes={"tags": {"owner": "cmkctl"}},
                                                      live={"tags": {}})
    says = vault_says(vault)
    return Read("azure_vault", live, says, vault_declared(says))


def add_access_policy(example: Example, served: Served) -> Read:
    """cmkctl reads the vault again after `add`: the example's answer is served as the vault's policies."""
    parameters, answer = example.parameters, example.final
    vault_path = _path(example.template, parameters).rsplit("/accessPolicies/", 1)[0]
    served.dispatcher.answer("PUT", _path(example.template, parameters), 200, answer)
    entry = answer["properties"]["accessPolicies"][0]
    vault = {"id": vault_path, "name": parameters["vaultName"], "location": "westus",
             "properties": {"tenantId": entry["tenantId"], "sku": {"family": "A", "name": "standard"},
                            "vaultUri": f"https://{parameters['vaultName']}.vault.azure.net/",
                            "accessPolicies": answer["properties"]["accessPolicies"]}}
    served.dispatcher.answer("GET", vault_path.rsplit("/", 1)[0], 200, {"value": [vault]})
    identity = {"subscriptionId": parameters["subscriptionId"], "resourceGroup": parameters["resourceGroupName"],
                "vault": parameters["vaultName"], "objectId": entry["objectId"], "tenantId": entry["tenantId"]}
    wanted = {"keyPermissions": {name: True for name in entry["permissions"]["keys"]}}
    with served.handlers(parameters["subscriptionId"]) as handlers:
        live = handlers.by_kind["azure_access_policy"].create(identity=identity, attributes=wanted)
    return Read("azure_access_policy", live, wanted, wanted)


def read_deleted_vaults(example: Example, served: Served) -> Read:
    body = example.body(200)
    deleted = body["value"][0]
    _serve_list(served, _path(example.template, example.parameters), body)
    subscription = example.parameters["subscriptionId"]
    with served.handlers(subscription) as handlers:
        live = handlers.by_kind["azure_vault"].held(identity={"subscriptionId": subscription, "name": deleted["name"]})
    properties = deleted["properties"]
    says = {"name": deleted["name"], "location": properties["location"], "vaultId": properties["vaultId"],
            "deletionDate": properties["deletionDate"], "scheduledPurgeDate": properties["scheduledPurgeDate"],
            "purgeProtectionEnabled": properties["purgeProtectionEnabled"]}
    return Read("azure_vault", live or {}, says, None)


def read_keys(example: Example, served: Served) -> Read:
    parameters = example.parameters
    _serve_list(served, _path(example.template, parameters), example.body(200))
    with inventory(served.connection, Accounts(azure_subscription_id=parameters["subscriptionId"]), PLUGINS) as listed:
        found = listed.keys(parameters["resourceGroupName"], parameters["vaultName"])
    live = {key["name"]: {k: key[k] for k in ("keyUri", "enabled", "versionCreated")} for key in found}
    says = {key["name"]: {k: v for k, v in key_says(key).items() if k in ("keyUri", "enabled", "versionCreated")}
            for key in example.body(200)["value"]}
    return Read("azure_key", live, says, None)


def read_key(example: Example, served: Served) -> Read:
    key, parameters = example.final, example.parameters
    keys_path = _path(example.template, parameters).rsplit("/", 1)[0]
    served.dispatcher.answer("GET", keys_path, 200, {"value": [key]})
    served.dispatcher.answer("GET", key["id"], 200, key)
    identity = {"subscriptionId": parameters["subscriptionId"], "resourceGroup": parameters["resourceGroupName"],
                "vault": parameters["vaultName"], "name": parameters["keyName"]}
    with served.handlers(parameters["subscriptionId"]) as handlers:
        live = handlers.by_kind["azure_key"].read(identity=identity)
    says = key_says(key)
    return Read("azure_key", live or {}, says, {"kty": says["kty"], "keySize": says["keySize"]})


def create_key(example: Example, served: Served) -> Read:
    key, parameters = example.final, example.parameters
    served.dispatcher.answer("PUT", _path(example.template, parameters), 200, key)
    identity = {"subscriptionId": parameters["subscriptionId"], "resourceGroup": parameters["resourceGroupName"],
                "vault": parameters["vaultName"], "name": parameters["keyName"]}
    sent = parameters["parameters"]["properties"]
    declared = {"kty": sent["kty"]}
    with served.handlers(parameters["subscriptionId"]) as handlers:
        live = handlers.by_kind["azure_key"].create(identity=identity, attributes=declared)
    return Read("azure_key", live, key_says(key), declared)


SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
GROUP = "rg-examples"


def _serve_vault_with_key(served: Served, vault_url: str, key: str) -> dict[str, Any]:
    """The ARM side a data-plane read goes through first: the vault (for its vaultUri) and the key."""
    name = vault_url.split("//", 1)[1].split(".", 1)[0]
    vault_id = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.KeyVault/vaults/{name}"
    served.dispatcher.answer("GET", vault_id.rsplit("/", 1)[0], 200, {"value": [{
        "id": vault_id, "name": name, "location": "westus", "properties": {
            "tenantId": SUBSCRIPTION, "sku": {"family": "A", "name": "standard"}, "vaultUri": vault_url}}]})
    document = {"id": f"{vault_id}/keys/{key}", "name": key, "properties": {
        "kty": "RSA", "keySize": 2048, "keyUri": f"{vault_url.rstrip('/')}/keys/{key}", "attributes": {"enabled": True}}}
    served.dispatcher.answer("GET", f"{vault_id}/keys", 200, {"value": [document]})
    served.dispatcher.answer("GET", f"{vault_id}/keys/{key}", 200, document)
    return {"subscriptionId": SUBSCRIPTION, "resourceGroup": GROUP, "vault": name, "name": key}


def read_rotation_policy(example: Example, served: Served) -> Read:
    parameters = example.parameters
    identity = _serve_vault_with_key(served, parameters["vaultBaseUrl"], parameters["key-name"])
    served.dispatcher.answer("GET", _path(example.template, parameters), 200, example.final)
    policy = canonical_policy(example.final)
    with served.handlers(SUBSCRIPTION) as handlers:
        live = handlers.by_kind["azure_key"].read_declared(identity=identity, attributes={"rotationPolicy": policy})
    return Read("azure_key", live or {}, {"rotationPolicy": policy}, {"kty": "RSA", "rotationPolicy": policy})


def write_rotation_policy(example: Example, served: Served) -> Read:
    parameters = example.parameters
    identity = _serve_vault_with_key(served, parameters["vaultBaseUrl"], parameters["key-name"])
    served.dispatcher.answer("PUT", _path(example.template, parameters), 200, example.final)
    policy = canonical_policy(parameters["keyRotationPolicy"])
    with served.handlers(SUBSCRIPTION) as handlers:
        live = handlers.by_kind["azure_key"].update(identity=identity, attributes={"rotationPolicy": policy},
                                                    live={"kty": "RSA"})
    return Read("azure_key", live, {"rotationPolicy": canonical_policy(example.final)}, {"rotationPolicy": policy})


# ---------------------------------------------------------------------------------------------
# role assignments, identities


def read_assignments(example: Example, served: Served) -> Read:
    """The list at a scope also holds what is assigned above it: cmkctl takes only the scope's own."""
    body, path = example.body(200), _path(example.template, example.parameters)
    scope = path.rsplit("/providers/Microsoft.Authorization/", 1)[0]
    own = next(a for a in body["value"] if a["properties"]["scope"].lower() == scope.lower())
    _serve_list(served, path, body)
    properties = own["properties"]
    identity = {"scope": scope, "roleDefinitionId": properties["roleDefinitionId"],
                "principalId": properties["principalId"]}
    with served.handlers(scope.split("/")[2]) as handlers:
        live = handlers.by_kind["azure_role_assignment"].read(identity=identity)
    return Read("azure_role_assignment", live or {}, assignment_says(own),
                {"principalType": properties["principalType"]})


def create_assignment(example: Example, served: Served) -> Read:
    parameters, answer = example.parameters, example.final
    scope = "/" + parameters["scope"]
    sent = parameters["parameters"]["properties"]
    name = assignment_name(scope, sent["roleDefinitionId"], sent["principalId"])
    served.dispatcher.answer("PUT", f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", 201, answer)
    identity = {"scope": scope, "roleDefinitionId": sent["roleDefinitionId"], "principalId": sent["principalId"]}
    declared = {"principalType": sent["principalType"]}
    with served.handlers(scope.split("/")[2]) as handlers:
        live = handlers.by_kind["azure_role_assignment"].create(identity=identity, attributes=declared)
    return Read("azure_role_assignment", live, assignment_says(answer), declared)


def identity_declared(says: dict[str, Any]) -> dict[str, Any]:
    return {"location": says["location"], "tenantId": says["tenantId"]}


def read_identities(example: Example, served: Served) -> Read:
    body, parameters = example.body(200), example.parameters
    identity = body["value"][0]
    subscription, group = parameters["subscriptionId"], parameters["resourceGroupName"]
    _serve_list(served, _path(example.template, example.parameters), body)
    with served.handlers(subscription) as handlers:
        live = handlers.by_kind["azure_user_assigned_identity"].read(
            identity={"subscriptionId": subscription, "resourceGroup": group, "name": identity["name"]})
    says = identity_says(identity)
    return Read("azure_user_assigned_identity", live or {}, says, identity_declared(says))


def read_subscription_identities(example: Example, served: Served) -> Read:
    body = example.body(200)
    identity = body["value"][0]
    _serve_list(served, _path(example.template, example.parameters), body)
    with inventory(served.connection, Accounts(azure_subscription_id=example.parameters["subscriptionId"]), PLUGINS) as listed:
        found = {i["name"]: i for i in listed.identities(identity["location"])}
    says = {"name": identity["name"], "resourceGroup": _group_of(identity["id"])[1],
            "principalId": identity["properties"]["principalId"]}
    return Read("azure_user_assigned_identity", found[identity["name"]], says, None)


def create_identity(example: Example, served: Served) -> Read:
    parameters, answer = example.parameters, example.final
    served.dispatcher.answer("PUT", _path(example.template, parameters), 200, answer)
    identity = {"subscriptionId": parameters["subscriptionId"], "resourceGroup": parameters["resourceGroupName"],
                "name": parameters["resourceName"]}
    sent = parameters["parameters"]
    with served.handlers(parameters["subscriptionId"]) as handlers:
        live = handlers.by_kind["azure_user_assigned_identity"].create(
            identity=identity, attributes={"location": sent["location"], "tags": sent.get("tags") or {}})
    says = identity_says(answer)
    return Read("azure_user_assigned_identity", live, says, identity_declared(says))


# ---------------------------------------------------------------------------------------------
# Managed Cassandra


PASSWORD_VARIABLE = "EXAMPLE_ADMIN_PASSWORD"


def cassandra_declared(says: dict[str, Any]) -> dict[str, Any]:
    return {name: says[name] for name in ("location", "identityType", "delegatedManagementSubnetId",
                                          "cassandraVersion")}


def read_cassandra_clusters(example: Example, served: Served) -> Read:
    body = example.body(200)
    cluster = body["value"][0]
    parameters = example.parameters
    _serve_list(served, _path(example.template, parameters), body)
    with served.handlers(parameters["subscriptionId"]) as handlers:
        live = handlers.by_kind["cassandra_cluster"].read(identity={
            "subscriptionId": parameters["subscriptionId"], "resourceGroup": parameters["resourceGroupName"],
            "name": cluster["name"]})
    says = cassandra_cluster_says(cluster)
    return Read("cassandra_cluster", live or {}, says, cassandra_declared(says))


def write_cassandra_cluster(example: Example, served: Served) -> Read:
    parameters, cluster = example.parameters, example.final
    path = _path(example.template, parameters)
    served.dispatcher.answer(example.method, path, 200, cluster)
    served.dispatcher.answer("GET", path, 200, cluster)
    served.monkeypatch.setenv(PASSWORD_VARIABLE, "Example-0-Password")
    identity = {"subscriptionId": parameters["subscriptionId"], "resourceGroup": parameters["resourceGroupName"],
                "name": parameters["clusterName"]}
    sent = parameters["body"]
    with served.handlers(parameters["subscriptionId"]) as handlers:
        clusters = handlers.by_kind["cassandra_cluster"]
        if example.method == "PUT":
            live = clusters.create(identity=identity, attributes={
                "location": sent["location"], **{k: sent["properties"][k] for k in (
                    "delegatedManagementSubnetId", "cassandraVersion")},
                "initialAdminPasswordFrom": {"env": PASSWORD_VARIABLE}})
        else:
            live = clusters.update(identity=identity, attributes={"tags": sent.get("tags") or {}}, live={})
    says = cassandra_cluster_says(cluster)
    return Read("cassandra_cluster", live, says, cassandra_declared(says))


def read_data_centers(example: Example, served: Served) -> Read:
    """Export lists each cluster's data centers; the cluster list it starts from is the harness's."""
    parameters, body = example.parameters, example.body(200)
    subscription, group, cluster = (parameters["subscriptionId"], parameters["resourceGroupName"],
                                    parameters["clusterName"])
    data_center = body["value"][0]
    location = data_center["properties"]["dataCenterLocation"]
    served.dispatcher.answer("GET", f"/subscriptions/{subscription}/providers/Microsoft.DocumentDB/cassandraClusters",
                             200, {"value": [{
                                 "id": f"/subscriptions/{subscription}/resourceGroups/{group}/providers/"
                                       f"Microsoft.DocumentDB/cassandraClusters/{cluster}",
                                 "name": cluster, "location": location, "properties": {
                                     "delegatedManagementSubnetId": "/subscriptions/s/resourceGroups/g/providers/"
                                                                    "Microsoft.Network/virtualNetworks/v/subnets/m"}}]})
    _serve_list(served, _path(example.template, parameters), body)
    with inventory(served.connection, Accounts(azure_subscription_id=subscription), PLUGINS) as listed:
        found = listed.cassandra_clusters(location_name(location))[0]["dataCenters"]
    says = {**data_center_says(data_center), "name": data_center["name"]}
    return Read("cassandra_data_center", {k: found[0].get(k) for k in says}, says, None)


def patch_data_center(example: Example, served: Served) -> Read:
    parameters, data_center = example.parameters, example.final
    path = _path(example.template, parameters)
    served.dispatcher.answer("PATCH", path, 200, data_center)
    served.dispatcher.answer("GET", path, 200, data_center)
    identity = {"subscriptionId": parameters["subscriptionId"], "resourceGroup": parameters["resourceGroupName"],
                "cluster": parameters["clusterName"], "name": parameters["dataCenterName"]}
    with served.handlers(parameters["subscriptionId"]) as handlers:
        live = handlers.by_kind["cassandra_data_center"].update(
            identity=identity, attributes={"nodeCount": parameters["body"]["properties"]["nodeCount"]}, live={})
    says = data_center_says(data_center)
    return Read("cassandra_data_center", live, says,
                {name: says[name] for name in ("dataCenterLocation", "delegatedSubnetId", "nodeCount")})


# ---------------------------------------------------------------------------------------------
# Mongo vCore


def mongo_declared(says: dict[str, Any]) -> dict[str, Any]:
    declared = {"location": says["location"], "encryptionMode": says["encryptionMode"]}
    if says["customerManagedKeyEncryption"]:
        declared["customerManagedKeyEncryption"] = says["customerManagedKeyEncryption"]
    return declared


def _mongo_identity(parameters: dict[str, Any], name: str) -> dict[str, Any]:
    return {"subscriptionId": parameters["subscriptionId"], "resourceGroup": parameters["resourceGroupName"],
            "name": name}


def read_mongo_clusters(example: Example, served: Served) -> Read:
    body = example.body(200)
    cluster = body["value"][0]
    subscription, group = _group_of(cluster["id"])
    _serve_list(served, _path(example.template, example.parameters), body)
    with served.handlers(subscription) as handlers:
        live = handlers.by_kind["mongo_cluster"].read(
            identity={"subscriptionId": subscription, "resourceGroup": group, "name": cluster["name"]})
    says = mongo_says(cluster)
    return Read("mongo_cluster", live or {}, says, mongo_declared(says))


def read_subscription_mongo_clusters(example: Example, served: Served) -> Read:
    body = example.body(200)
    _serve_list(served, _path(example.template, example.parameters), body)
    cluster = body["value"][0]
    with inventory(served.connection, Accounts(azure_subscription_id=example.parameters["subscriptionId"]), PLUGINS) as listed:
        found = {c["name"]: c for c in listed.mongo_clusters(cluster["location"])}
    says = {**mongo_says(cluster), "name": cluster["name"], "resourceGroup": _group_of(cluster["id"])[1]}
    return Read("mongo_cluster", found[cluster["name"]], says, mongo_declared(says))


def read_mongo_cluster(example: Example, served: Served) -> Read:
    cluster = example.final
    served.dispatcher.answer("GET", cluster["id"].rsplit("/", 1)[0], 200, {"value": [cluster]})
    subscription, group = _group_of(cluster["id"])
    with served.handlers(subscription) as handlers:
        live = handlers.by_kind["mongo_cluster"].read(
            identity={"subscriptionId": subscription, "resourceGroup": group, "name": cluster["name"]})
    says = mongo_says(cluster)
    return Read("mongo_cluster", live or {}, says, mongo_declared(says))


# What cmkctl sends to create or re-key a cluster (it only makes customer-key clusters); the example's
# final answer is what it then reads, whatever the example asked for.
MONGO_CMK = {"keyEncryptionKeyIdentity": {
    "identityType": "UserAssignedIdentity",
    "userAssignedIdentityResourceId": "/subscriptions/ffffffff-ffff-ffff-ffff-ffffffffffff/resourceGroups/"
                                      "TestResourceGroup/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
                                      "myidentity"},
    "keyEncryptionKeyUrl": "https://myVault.vault.azure.net/keys/myKey"}


def write_mongo_cluster(example: Example, served: Served) -> Read:
    parameters, cluster = example.parameters, example.final
    path = _path(example.template, parameters)
    served.dispatcher.answer(example.method, path, 200, cluster)
    served.dispatcher.answer("GET", path, 200, cluster)
    served.monkeypatch.setenv(PASSWORD_VARIABLE, "Example-0-Password")
    identity = _mongo_identity(parameters, parameters["mongoClusterName"])
    attributes = {"location": cluster["location"], "customerManagedKeyEncryption": MONGO_CMK,
                  "administrator": {"userName": "mongoAdmin"}, "administratorPassword": {"env": PASSWORD_VARIABLE},
                  "compute": {"tier": "M30"}, "storage": {"sizeGb": 32}}
    with served.handlers(parameters["subscriptionId"]) as handlers:
        clusters = handlers.by_kind["mongo_cluster"]
        if example.method == "PUT":
            live = clusters.create(identity=identity, attributes=attributes)
        else:
            live = clusters.update(identity=identity, attributes={"customerManagedKeyEncryption": MONGO_CMK}, live={})
    says = mongo_says(cluster)
    return Read("mongo_cluster", live, says, mongo_declared(says))


READERS: dict[str, Callable[[Example, Served], Read]] = {
    "Vaults_ListByResourceGroup": read_vault_list,
    "Vaults_ListBySubscription": read_subscription_vaults,
    "Vaults_Get": read_vault,
    "Vaults_CreateOrUpdate": create_vault,
    "Vaults_Update": update_vault,
    "Vaults_UpdateAccessPolicy": add_access_policy,
    "Vaults_ListDeleted": read_deleted_vaults,
    "Keys_List": read_keys,
    "Keys_Get": read_key,
    "Keys_CreateIfNotExist": create_key,
    "GetKeyRotationPolicy": read_rotation_policy,
    "UpdateKeyRotationPolicy": write_rotation_policy,
    "RoleAssignments_ListForScope": read_assignments,
    "RoleAssignments_ListForResourceGroup": read_assignments,
    "RoleAssignments_Create": create_assignment,
    "UserAssignedIdentities_ListByResourceGroup": read_identities,
    "UserAssignedIdentities_ListBySubscription": read_subscription_identities,
    "UserAssignedIdentities_CreateOrUpdate": create_identity,
    "CassandraClusters_ListByResourceGroup": read_cassandra_clusters,
    "CassandraClusters_CreateUpdate": write_cassandra_cluster,
    "CassandraClusters_Update": write_cassandra_cluster,
    "CassandraDataCenters_List": read_data_centers,
    "CassandraDataCenters_Update": patch_data_center,
    "MongoClusters_Get": read_mongo_cluster,
    "MongoClusters_ListByResourceGroup": read_mongo_clusters,
    "MongoClusters_List": read_subscription_mongo_clusters,
    "MongoClusters_CreateOrUpdate": write_mongo_cluster,
    "MongoClusters_Update": write_mongo_cluster,
}


def _cases() -> list[Any]:
    return [pytest.param(example, id=example.file, marks=marks(example.file, "a"))
            for example in vendor_examples.copied()]


@pytest.mark.parametrize("example", _cases())
def test_each_example_is_read_as_it_says(example: Example, served: Served) -> None:
    read = READERS[example.operation_id](example, served)
    assert {name: read.live.get(name) for name in read.expected} == read.expected
    if read.declared is not None:
        decision = choose_action(PLUGINS.kinds[read.kind], read.declared, read.live)
        assert decision.action is Action.NOOP, decision.changes
    assert served.dispatcher.unanswered == []


def test_every_copied_example_has_a_reader() -> None:
    assert {e.operation_id for e in vendor_examples.copied()} <= set(READERS)


# ---------------------------------------------------------------------------------------------
# Confluent's inline examples: errors


def _call(served: Served, example: InlineExample) -> Any:
    """The client call cmkctl makes for the example's operation, its answer the example."""
    path = example.path.replace("{id}", "lkc-12345" if "clusters" in example.path else "cck-12345")
    served.dispatcher.answer(example.method, path, example.status, example.body)
    with served.handlers(SUBSCRIPTION) as handlers:
        client = handlers.clients.planes["confluent"]
        calls: dict[tuple[str, str], Callable[[], Any]] = {
            ("GET", "/byok/v1/keys"): client.byok_keys,
            ("POST", "/byok/v1/keys"): lambda: client.create_byok_key({"key": {"kind": "AzureKey"}}),
            ("GET", "/byok/v1/keys/{id}"): lambda: client.byok_key("cck-12345"),
            ("GET", "/cmk/v2/clusters"): lambda: client.clusters("env-12345"),
            ("POST", "/cmk/v2/clusters"): lambda: client.create_cluster({"spec": {"environment": {"id": "env-12345"}}}),
            ("PATCH", "/cmk/v2/clusters/{id}"): lambda: client.update_cluster("lkc-12345", {"spec": {}}),
        }
        return calls[(example.method, example.path)]()


@pytest.mark.parametrize("example", [pytest.param(e, id=e.name) for e in vendor_examples.confluent_inline()])
def test_each_confluent_error_example_reaches_the_user_with_its_detail(example: InlineExample, served: Served) -> None:
    with pytest.raises(CmkError) as raised:
        _call(served, example)
    error = example.body["errors"][0]
    assert error.get("detail", error["title"]) in str(raised.value)
    if example.status == 401:
        assert isinstance(raised.value, CredentialError)
    else:
        assert error.get("code", "") in str(raised.value)
        assert isinstance(raised.value, TransientError) is (example.status >= 500)
    assert served.dispatcher.unanswered == []
