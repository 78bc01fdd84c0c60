"""Direction (b): each published example's request sent to the emulator.

The emulator is started as the tests start it, seeded with what the example presumes exists (through
world.yaml, or through the emulator's own API, as a user would have made it), and sent the example's
request: method, path with the example's parameters, the query parameters its operation declares, and its
body. The answer's status must be one the example declares, and the fields cmkctl reads must be the
example's: a read's against the example's answer; a write's as cmkctl reads them (a long-running one's
resource once done, what its poller ends on; another's answer) against the example's answer for a
creation (its 201) or a completed write (its 200). Values the service makes up (principal and client IDs,
key versions, timestamps) are compared by their form; the progress of a long-running write
(provisioningState, the status of its first answer beyond being declared) is left to the LRO tests. Every
exchange is also held to the published definitions (the harness runs after each test).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from cmkctl_sandbox import Sandbox
from tests.contracts import definitions, vendor_examples
from tests.contracts.example_fields import (
    assignment_says,
    canonical_policy,
    cassandra_cluster_says,
    data_center_says,
    identity_says,
    key_says,
    mongo_says,
    vault_says,
)
from tests.contracts.example_results import KNOWN_WRONG, marks
from tests.contracts.vendor_examples import Example
from tests.emulated import http_client, vault_client

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
VERSIONED = re.compile(r"^https://[a-z0-9-]+\.vault\.azure\.net/keys/[A-Za-z0-9-]+/[0-9a-f]{32}$")
CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
COSMOS_DB_APP_ID = "a232010e-820c-4083-83bb-3ace5fc29d0b"


@dataclass
class Emulated:
    sandbox: Sandbox
    client: httpx.Client

    def arm(self, method: str, path: str, api: str, body: Any = None) -> httpx.Response:
        response = self.client.request(method, path, params={"api-version": api}, json=body)
        return response

    def settle(self) -> None:
        """Let the emulator's time pass every lag it has (realism.py): what a write started is done, a
        new principal is visible, a new grant usable, as a poller or a waiting client would find them."""
        self.sandbox.offer.clock.sleep(max(self.sandbox.state["realism"].values(), default=0.0) + 1)

    def seed(self, method: str, path: str, api: str, body: Any = None) -> dict[str, Any]:
        """A request that makes what an example presumes: it must succeed."""
        response = self.arm(method, path, api, body)
        assert response.is_success, f"seeding {method} {path}: {response.status_code} {response.text}"
        self.settle()
        found: dict[str, Any] = response.json() if response.content else {}
        return found


Start = Callable[..., Emulated]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """Starts the emulator (once per test), seeded with a world.yaml when one is given."""
    with ExitStack() as stack:

        def started(world: dict[str, Any] | None = None) -> Emulated:
            directory = tmp_path / "sandbox"
            directory.mkdir()
            if world:
                (directory / "world.yaml").write_text(yaml.safe_dump(world))
            sandbox = stack.enter_context(Sandbox(directory))
            return Emulated(sandbox, stack.enter_context(http_client(sandbox)))

        yield started


@dataclass(frozen=True)
class Outcome:
    status: int
    got: Any  # the fields cmkctl reads, from the emulator's answer
    want: Any  # the same, from the example


# ---------------------------------------------------------------------------------------------
# the example's request


def _operation(example: Example) -> definitions.Operation:
    plane = "keyvault" if example.name.startswith("keyvault-data/") else "arm"
    version = example.name.split("/")[1]
    return next(op for op in definitions.operations() if op.plane == plane and op.version == version
                and op.method == example.method and op.template == example.template)


def _declared(example: Example, where: str) -> list[str]:
    return [p["name"] for _, p in definitions.parameters(_operation(example)) if p["in"] == where]


def _path(example: Example, renamed: dict[str, str]) -> str:
    path = example.template
    for name, value in example.parameters.items():
        given = renamed.get(name, str(value))
        path = path.replace("{" + name + "}", given.lstrip("/") if name == "scope" else given)
    return path


def send(emulated: Emulated, example: Example, **renamed: str) -> httpx.Response:
    """The example's request as published, but for parameters renamed (a note in example_results says why)."""
    parameters = example.parameters
    query = {name: str(parameters[name]) for name in _declared(example, "query") if name in parameters}
    body_names = [name for name in _declared(example, "body") if name in parameters]
    body = parameters[body_names[0]] if body_names else None
    path = _path(example, renamed)
    if "vaultBaseUrl" in parameters:
        vault = parameters["vaultBaseUrl"].split("//", 1)[1].split(".", 1)[0]
        with vault_client(emulated.sandbox, vault) as data_plane:
            return data_plane.request(example.method, path, params=query, json=body)
    return emulated.client.request(example.method, path, params=query, json=body)


def _form(value: Any) -> Any:
    """A made-up value by its form only."""
    if isinstance(value, str) and GUID.match(value):
        return "<guid>"
    if isinstance(value, str) and VERSIONED.match(value):
        return "<versioned key URI>"
    if isinstance(value, int) and not isinstance(value, bool) and value > 10**9:
        return "<unix time>"
    return value


def formed(fields: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: _form(value) if name in names else value for name, value in fields.items()}


def without(fields: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if name not in names}


def ignoring(example: Example) -> tuple[str, ...]:
    """Fields a known-wrong example gets wrong, left out of the comparison (example_results says why)."""
    entry = KNOWN_WRONG.get(example.file)
    return entry.ignore if entry is not None else ()


def _long_running(example: Example) -> bool:
    operation = _operation(example)
    found: Any = definitions.document(operation.uri)["paths"][operation.template][operation.method.lower()]
    return bool(found.get("x-ms-long-running-operation"))


def written(emulated: Emulated, example: Example, response: httpx.Response, path: str, api: str,
            fields: Callable[[dict[str, Any]], Any], *, created: bool = False) -> Outcome:
    """A write's outcome as cmkctl reads it: a long-running one's resource once done (what its poller ends
    on), another's answer; against the example's answer for a creation (201, when it declares one) or else
    for a completed write (200)."""
    if not response.is_success:
        return Outcome(response.status_code, response.json().get("error"), None)
    if _long_running(example):
        emulated.settle()
    read = emulated.arm("GET", path, api).json() if _long_running(example) else response.json()
    wanted = 201 if created and 201 in example.statuses else 200
    return Outcome(response.status_code, fields(read), fields(example.body(wanted)))


# ---------------------------------------------------------------------------------------------
# Key Vault


VAULT_API = "2026-05-15"


def vault_document_body(vault: dict[str, Any]) -> dict[str, Any]:
    """A PUT that makes the vault an example's answer shows: what it says was set, nothing else."""
    given = vault["properties"]
    properties: dict[str, Any] = {"tenantId": given["tenantId"], "sku": given["sku"]}
    for name in ("accessPolicies", "enabledForDeployment", "enabledForDiskEncryption", "enabledForTemplateDeployment",
                 "enableRbacAuthorization", "softDeleteRetentionInDays", "publicNetworkAccess"):
        if name in given:
            properties[name] = given[name]
    if given.get("enablePurgeProtection"):
        properties["enablePurgeProtection"] = True
    if "networkAcls" in given:
        properties["networkAcls"] = {k: given["networkAcls"][k] for k in ("bypass", "defaultAction")}
    return {"location": vault["location"], "tags": vault.get("tags") or {}, "properties": properties}


def seed_vault(emulated: Emulated, vault: dict[str, Any]) -> None:
    emulated.seed("PUT", vault["id"], VAULT_API, vault_document_body(vault))


def vault_path(subscription: str, group: str, name: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.KeyVault/vaults/{name}"


def vault_named(emulated: Emulated, subscription: str, group: str, name: str, *, rbac: bool = False) -> str:
    path = vault_path(subscription, group, name)
    emulated.seed("PUT", path, VAULT_API, {"location": "westus", "properties": {
        "tenantId": "00000000-0000-0000-0000-000000000000", "sku": {"family": "A", "name": "standard"},
        "enableRbacAuthorization": rbac}})
    return path


def by_name(items: list[dict[str, Any]], says: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    return {item["name"].lower(): says(item) for item in items}


def list_vaults(start: Start, example: Example) -> Outcome:
    emulated = start()
    for vault in example.body(200)["value"]:
        seed_vault(emulated, vault)
    response = send(emulated, example)
    return Outcome(response.status_code, by_name(response.json()["value"], vault_says),
                   by_name(example.body(200)["value"], vault_says))


def get_vault(start: Start, example: Example) -> Outcome:
    emulated = start()
    seed_vault(emulated, example.final)
    emulated.arm("GET", example.final["id"], VAULT_API)  # the create's LRO done, as a poller would see it
    response = send(emulated, example)
    return Outcome(response.status_code, vault_says(response.json()), vault_says(example.final))


def put_vault(start: Start, example: Example) -> Outcome:
    emulated = start()
    response = send(emulated, example)
    return written(emulated, example, response, _path(example, {}), VAULT_API, vault_says, created=True)


def patch_vault(start: Start, example: Example) -> Outcome:
    emulated = start()
    seed_vault(emulated, example.final)
    response = send(emulated, example)
    return written(emulated, example, response, _path(example, {}), VAULT_API, vault_says)


def policies(answer: dict[str, Any]) -> dict[str, list[str]]:
    """An access policy answer as cmkctl reads it: each principal's key permissions."""
    return {entry["objectId"]: sorted(entry["permissions"].get("keys") or [])
            for entry in answer["properties"]["accessPolicies"]}


def add_access_policy(start: Start, example: Example) -> Outcome:
    emulated = start()
    parameters = example.parameters
    vault_named(emulated, parameters["subscriptionId"], parameters["resourceGroupName"], parameters["vaultName"])
    response = send(emulated, example)
    return written(emulated, example, response, _path(example, {}), VAULT_API, policies)


def deleted_says(deleted: dict[str, Any]) -> dict[str, Any]:
    properties = deleted["properties"]
    return {"name": deleted["name"], **{name: properties.get(name) for name in (
        "location", "vaultId", "deletionDate", "scheduledPurgeDate", "purgeProtectionEnabled")}}


def list_deleted_vaults(start: Start, example: Example) -> Outcome:
    listed = example.body(200)["value"]
    emulated = start({"azure": {"softDeletedVaults": [
        {"name": d["name"], **{k: d["properties"][k] for k in (
            "location", "vaultId", "deletionDate", "scheduledPurgeDate", "purgeProtectionEnabled")}}
        for d in listed]}})
    response = send(emulated, example)
    return Outcome(response.status_code, by_name(response.json()["value"], deleted_says),
                   by_name(listed, deleted_says))


def key_fields(key: dict[str, Any]) -> dict[str, Any]:
    return formed(key_says(key), "keyUriWithVersion", "versionCreated")


def seed_key(emulated: Emulated, vault: str, name: str, properties: dict[str, Any]) -> None:
    emulated.seed("PUT", f"{vault}/keys/{name}", VAULT_API, {"properties": properties})


def list_keys(start: Start, example: Example) -> Outcome:
    emulated, parameters = start(), example.parameters
    vault = vault_named(emulated, parameters["subscriptionId"], parameters["resourceGroupName"], parameters["vaultName"])
    for key in example.body(200)["value"]:
        seed_key(emulated, vault, key["name"], {"kty": "RSA"})
    response = send(emulated, example)

    def listed(key: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in key_fields(key).items() if k in ("keyUri", "enabled", "versionCreated")}

    return Outcome(response.status_code, by_name(response.json()["value"], listed),
                   by_name(example.body(200)["value"], listed))


def get_key(start: Start, example: Example) -> Outcome:
    emulated, parameters, key = start(), example.parameters, example.final
    vault = vault_named(emulated, parameters["subscriptionId"], parameters["resourceGroupName"], parameters["vaultName"])
    seed_key(emulated, vault, parameters["keyName"], {k: key["properties"][k] for k in ("kty", "keySize")})
    response = send(emulated, example)
    return Outcome(response.status_code, key_fields(response.json()), key_fields(key))


def create_key(start: Start, example: Example) -> Outcome:
    emulated, parameters = start(), example.parameters
    vault_named(emulated, parameters["subscriptionId"], parameters["resourceGroupName"], parameters["vaultName"])
    response = send(emulated, example)
    return written(emulated, example, response, _path(example, {}), VAULT_API, key_fields, created=True)


def _data_plane_key(emulated: Emulated, example: Example) -> str:
    """The vault and key a data-plane example names, made through ARM first."""
    parameters = example.parameters
    vault_name = parameters["vaultBaseUrl"].split("//", 1)[1].split(".", 1)[0]
    vault = vault_named(emulated, "00000000-0000-0000-0000-000000000000", "rg-examples", vault_name, rbac=True)
    seed_key(emulated, vault, parameters["key-name"], {"kty": "RSA"})
    return vault_name


def get_rotation_policy(start: Start, example: Example) -> Outcome:
    emulated = start()
    vault_name = _data_plane_key(emulated, example)
    held = example.final
    with vault_client(emulated.sandbox, vault_name) as data_plane:
        seeded = data_plane.put(f"/keys/{example.parameters['key-name']}/rotationpolicy", params={"api-version": "7.5"},
                                json={"lifetimeActions": held["lifetimeActions"], "attributes": {
                                    "expiryTime": held["attributes"]["expiryTime"]}})
    assert seeded.status_code == 200, seeded.text
    response = send(emulated, example)
    return Outcome(response.status_code, canonical_policy(response.json()), canonical_policy(held))


def put_rotation_policy(start: Start, example: Example) -> Outcome:
    emulated = start()
    _data_plane_key(emulated, example)
    response = send(emulated, example)
    return written(emulated, example, response, _path(example, {}), "7.5", canonical_policy)


# ---------------------------------------------------------------------------------------------
# role assignments, identities


def _principal_world(principal_ids: set[str]) -> list[dict[str, str]]:
    return [{"appId": f"00000000-0000-0000-0000-{i:012d}", "objectId": principal}
            for i, principal in enumerate(sorted(principal_ids))]


def list_assignments(start: Start, example: Example) -> Outcome:
    listed = example.body(200)["value"]
    emulated = start({"azure": {
        "servicePrincipals": _principal_world({a["properties"]["principalId"] for a in listed}),
        "roleAssignments": [{"scope": a["properties"]["scope"], "role": a["properties"]["roleDefinitionId"],
                             "principalId": a["properties"]["principalId"],
                             "principalType": a["properties"]["principalType"], "name": a["name"]} for a in listed]}})
    response = send(emulated, example)
    return Outcome(response.status_code, by_name(response.json()["value"], assignment_says),
                   by_name(listed, assignment_says))


def create_assignment(start: Start, example: Example) -> Outcome:
    sent = example.parameters["parameters"]["properties"]
    emulated = start({"azure": {"servicePrincipals": _principal_world({sent["principalId"]})}})
    response = send(emulated, example)
    return written(emulated, example, response, _path(example, {}), "2022-04-01", assignment_says, created=True)


IDENTITY_API = "2024-11-30"


def identity_fields(identity: dict[str, Any], *ignored: str) -> dict[str, Any]:
    return without(formed(identity_says(identity), "tenantId", "principalId", "clientId"), *ignored)


def seed_identity(emulated: Emulated, subscription: str, group: str, identity: dict[str, Any]) -> dict[str, Any]:
    path = (f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/"
            f"userAssignedIdentities/{identity['name']}")
    return emulated.seed("PUT", path, IDENTITY_API, {"location": identity["location"], "tags": identity.get("tags") or {}})


def list_identities(start: Start, example: Example) -> Outcome:
    emulated, listed = start(), example.body(200)["value"]
    group = example.parameters.get("resourceGroupName")
    for identity in listed:
        seed_identity(emulated, example.parameters["subscriptionId"], group or identity["id"].split("/")[4], identity)
    response = send(emulated, example)
    ignored = ignoring(example)
    return Outcome(response.status_code, by_name(response.json()["value"], lambda i: identity_fields(i, *ignored)),
                   by_name(listed, lambda i: identity_fields(i, *ignored)))


def put_identity(start: Start, example: Example) -> Outcome:
    emulated = start()
    response = send(emulated, example)
    ignored = ignoring(example)
    return written(emulated, example, response, _path(example, {}), IDENTITY_API,
                   lambda i: identity_fields(i, *ignored), created=True)


# ---------------------------------------------------------------------------------------------
# Managed Cassandra


CASSANDRA_API = "2025-10-15"


def cassandra_world(cluster: dict[str, Any], data_centers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    subscription, group = cluster["id"].split("/")[2], cluster["id"].split("/")[4]
    properties = cluster["properties"]
    return {"azure": {"cassandraClusters": [{
        "subscription": subscription, "resourceGroup": group, "name": cluster["name"], "location": cluster["location"],
        "delegatedManagementSubnetId": properties["delegatedManagementSubnetId"],
        "cassandraVersion": properties["cassandraVersion"], "tags": cluster.get("tags") or {},
        "dataCenters": [{"name": d["name"], **{k: d["properties"][k] for k in (
            "dataCenterLocation", "delegatedSubnetId", "nodeCount")}} for d in data_centers or []]}]}}


def cluster_fields(cluster: dict[str, Any], *ignored: str) -> dict[str, Any]:
    return without(cassandra_cluster_says(cluster), *ignored)


def list_cassandra_clusters(start: Start, example: Example) -> Outcome:
    listed = example.body(200)["value"]
    emulated = start(cassandra_world(listed[0]))
    response = send(emulated, example)
    ignored = ignoring(example)
    return Outcome(response.status_code, by_name(response.json()["value"], lambda c: cluster_fields(c, *ignored)),
                   by_name(listed, lambda c: cluster_fields(c, *ignored)))


def _vnet_of(subnet: str) -> str:
    return subnet.rsplit("/subnets/", 1)[0]


def put_cassandra_cluster(start: Start, example: Example) -> Outcome:
    subnet = example.parameters["body"]["properties"]["delegatedManagementSubnetId"]
    cosmos = "00000000-0000-0000-0000-00000000c05d"
    emulated = start({"azure": {
        "servicePrincipals": [{"appId": COSMOS_DB_APP_ID, "objectId": cosmos, "displayName": "Azure Cosmos DB"}],
        "roleAssignments": [{"scope": _vnet_of(subnet), "role": NETWORK_CONTRIBUTOR, "principalId": cosmos}]}})
    response = send(emulated, example)
    return written(emulated, example, response, _path(example, {}), CASSANDRA_API,
                   lambda c: cluster_fields(c, "provisioningState"), created=True)


def patch_cassandra_cluster(start: Start, example: Example) -> Outcome:
    emulated = start(cassandra_world(example.final))
    response = send(emulated, example)
    ignored = ("provisioningState", *ignoring(example))
    return written(emulated, example, response, _path(example, {}), CASSANDRA_API,
                   lambda c: cluster_fields(c, *ignored))


def data_center_fields(data_center: dict[str, Any], *ignored: str) -> dict[str, Any]:
    return without(data_center_says(data_center), *ignored)


def _cluster_named(parameters: dict[str, Any]) -> dict[str, Any]:
    """The cluster a data-center example presumes (no example shows it: the data centers' own subnets' VNet)."""
    return {"id": f"/subscriptions/{parameters['subscriptionId']}/resourceGroups/{parameters['resourceGroupName']}/"
                  f"providers/Microsoft.DocumentDB/cassandraClusters/{parameters['clusterName']}",
            "name": parameters["clusterName"], "location": "West US", "properties": {
                "delegatedManagementSubnetId": "/subscriptions/536e130b-d7d6-4ac7-98a5-de20d69588d2/resourceGroups/"
                                               "customer-vnet-rg/providers/Microsoft.Network/virtualNetworks/"
                                               "customer-vnet/subnets/management", "cassandraVersion": "3.11"}}


def list_data_centers(start: Start, example: Example) -> Outcome:
    listed = example.body(200)["value"]
    emulated = start(cassandra_world(_cluster_named(example.parameters), listed))
    response = send(emulated, example)
    ignored = ignoring(example)
    return Outcome(response.status_code, by_name(response.json()["value"], lambda d: data_center_fields(d, *ignored)),
                   by_name(listed, lambda d: data_center_fields(d, *ignored)))


def patch_data_center(start: Start, example: Example) -> Outcome:
    emulated = start(cassandra_world(_cluster_named(example.parameters), [example.final]))
    response = send(emulated, example)
    ignored = ("provisioningState", *ignoring(example))
    return written(emulated, example, response, _path(example, {}), CASSANDRA_API,
                   lambda d: data_center_fields(d, *ignored))


# ---------------------------------------------------------------------------------------------
# Mongo vCore


MONGO_API = "2026-06-01"


def lower_name(example: Example) -> dict[str, str]:
    """The examples name clusters with capitals; the definition's pattern, as the emulator reads it, takes
    lower case only (example_results.NOTES)."""
    return {"mongoClusterName": example.parameters["mongoClusterName"].lower()}


def mongo_fields(cluster: dict[str, Any], *ignored: str) -> dict[str, Any]:
    return without({**mongo_says(cluster), "id": cluster["id"].lower()}, *ignored)


def mongo_path(subscription: str, group: str, name: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.DocumentDB/mongoClusters/{name}"


def seed_mongo(emulated: Emulated, cluster: dict[str, Any], **extra: Any) -> str:
    """A service-managed cluster as an example's answer shows it, made with what a create needs."""
    subscription, group = cluster["id"].split("/")[2], cluster["id"].split("/")[4]
    path = mongo_path(subscription, group, cluster["name"].lower())
    emulated.seed("PUT", path, MONGO_API, {"location": cluster["location"], "tags": cluster.get("tags") or {},
                                           **extra, "properties": {
        "administrator": {"userName": "mongoAdmin", "password": "Example-0-Password"},
        "compute": {"tier": "M30"}, "storage": {"sizeGb": 128}, **extra.pop("properties", {})}})
    return path


def get_mongo(start: Start, example: Example) -> Outcome:
    emulated = start()
    seed_mongo(emulated, example.final)
    response = send(emulated, example, **lower_name(example))
    return Outcome(response.status_code, mongo_fields(response.json()), mongo_fields(example.final))


def list_mongo(start: Start, example: Example) -> Outcome:
    emulated, listed = start(), example.body(200)["value"]
    for cluster in listed:
        seed_mongo(emulated, cluster)
    response = send(emulated, example)
    return Outcome(response.status_code, by_name(response.json()["value"], mongo_fields), by_name(listed, mongo_fields))


IDENTITIES = "/subscriptions/ffffffff-ffff-ffff-ffff-ffffffffffff/resourceGroups/TestResourceGroup/providers/" \
             "Microsoft.ManagedIdentity/userAssignedIdentities/"


def seed_key_access(emulated: Emulated, cmk: dict[str, Any]) -> None:
    """The identity, vault and key a customer-key example names, and the identity's right to use the key."""
    identity_id = cmk["keyEncryptionKeyIdentity"]["userAssignedIdentityResourceId"]
    subscription, group, name = identity_id.split("/")[2], identity_id.split("/")[4], identity_id.rsplit("/", 1)[1]
    identity = seed_identity(emulated, subscription, group, {"name": name, "location": "westus2"})
    vault_name, key = cmk["keyEncryptionKeyUrl"].split("//", 1)[1].split(".", 1)[0], cmk["keyEncryptionKeyUrl"].rsplit("/", 1)[1]
    vault = vault_path(subscription, group, vault_name)
    if emulated.arm("GET", vault, VAULT_API).status_code == 404:
        vault_named(emulated, subscription, group, vault_name, rbac=True)
    seed_key(emulated, vault, key, {"kty": "RSA", "keySize": 3072})
    emulated.seed("PUT", f"{vault}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}", "2022-04-01",
                  {"properties": {
                             "roleDefinitionId": f"/subscriptions/{subscription}/providers/Microsoft.Authorization/"
                                                 f"roleDefinitions/{CRYPTO_SERVICE_ENCRYPTION_USER}",
                             "principalId": identity["properties"]["principalId"], "principalType": "ServicePrincipal"}})


def _sources_of(example: Example) -> list[str]:
    properties = example.parameters["resource"]["properties"]
    return [found["sourceResourceId"] for name in ("restoreParameters", "replicaParameters")
            if (found := properties.get(name))]


def put_mongo(start: Start, example: Example) -> Outcome:
    emulated = start()
    for source in _sources_of(example):
        seed_mongo(emulated, {"id": source, "name": source.rsplit("/", 1)[1], "location": "eastus"})
    cmk = (example.parameters["resource"]["properties"].get("encryption") or {}).get("customerManagedKeyEncryption")
    if cmk:
        seed_key_access(emulated, cmk)
    response = send(emulated, example, **lower_name(example))
    ignored = ("provisioningState", *ignoring(example))
    return written(emulated, example, response, _path(example, lower_name(example)), MONGO_API,
                   lambda c: mongo_fields(c, *ignored), created=True)


def patch_mongo(start: Start, example: Example) -> Outcome:
    emulated, final = start(), example.final
    asked = example.parameters["properties"]
    cmk = ((asked.get("properties") or {}).get("encryption") or {}).get("customerManagedKeyEncryption")
    if cmk:
        held = {**cmk, "keyEncryptionKeyIdentity": {**cmk["keyEncryptionKeyIdentity"],
                                                     "userAssignedIdentityResourceId": IDENTITIES + "myidentity"},
                "keyEncryptionKeyUrl": cmk["keyEncryptionKeyUrl"].rsplit("/", 1)[0] + "/myKey"}
        seed_key_access(emulated, held)
        seed_key_access(emulated, cmk)
        path = seed_mongo(emulated, final, identity={"type": "UserAssigned", "userAssignedIdentities": {
            IDENTITIES + "myidentity": {}}}, properties={"encryption": {"customerManagedKeyEncryption": held}})
    else:
        path = seed_mongo(emulated, final)
    response = send(emulated, example, **lower_name(example))
    ignored = ("provisioningState", *ignoring(example))
    return written(emulated, example, response, path, MONGO_API, lambda c: mongo_fields(c, *ignored))


SCENARIOS: dict[str, Callable[[Start, Example], Outcome]] = {
    "Vaults_ListByResourceGroup": list_vaults,
    "Vaults_ListBySubscription": list_vaults,
    "Vaults_Get": get_vault,
    "Vaults_CreateOrUpdate": put_vault,
    "Vaults_Update": patch_vault,
    "Vaults_UpdateAccessPolicy": add_access_policy,
    "Vaults_ListDeleted": list_deleted_vaults,
    "Keys_List": list_keys,
    "Keys_Get": get_key,
    "Keys_CreateIfNotExist": create_key,
    "GetKeyRotationPolicy": get_rotation_policy,
    "UpdateKeyRotationPolicy": put_rotation_policy,
    "RoleAssignments_ListForScope": list_assignments,
    "RoleAssignments_ListForResourceGroup": list_assignments,
    "RoleAssignments_Create": create_assignment,
    "UserAssignedIdentities_ListByResourceGroup": list_identities,
    "UserAssignedIdentities_ListBySubscription": list_identities,
    "UserAssignedIdentities_CreateOrUpdate": put_identity,
    "CassandraClusters_ListByResourceGroup": list_cassandra_clusters,
    "CassandraClusters_CreateUpdate": put_cassandra_cluster,
    "CassandraClusters_Update": patch_cassandra_cluster,
    "CassandraDataCenters_List": list_data_centers,
    "CassandraDataCenters_Update": patch_data_center,
    "MongoClusters_Get": get_mongo,
    "MongoClusters_ListByResourceGroup": list_mongo,
    "MongoClusters_List": list_mongo,
    "MongoClusters_CreateOrUpdate": put_mongo,
    "MongoClusters_Update": patch_mongo,
}


def _cases() -> list[Any]:
    return [pytest.param(example, id=example.file, marks=marks(example.file, "b"))
            for example in vendor_examples.copied()]


@pytest.mark.parametrize("example", _cases())
def test_each_example_request_is_answered_as_it_says(example: Example, start: Start) -> None:
    outcome = SCENARIOS[example.operation_id](start, example)
    entry = KNOWN_WRONG.get(example.file)
    if entry is not None and entry.refused is not None:
        # The request itself is wrong: the emulator refuses it as the definition says the service must.
        assert (outcome.status, (outcome.got or {}).get("code")) == entry.refused
        return
    assert outcome.status in example.statuses, outcome.got
    assert outcome.got == outcome.want


def test_every_copied_example_has_a_scenario() -> None:
    assert {e.operation_id for e in vendor_examples.copied()} <= set(SCENARIOS)
