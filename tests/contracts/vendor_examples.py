"""The vendors' published examples of the operations cmkctl uses: which there are, and the copies in `examples/`.

Azure's definitions name their examples (`x-ms-examples`, a `$ref` to `./examples/NAME.json`); each one of an
operation cmkctl uses is copied verbatim to `examples/<plane>/<api-version>/NAME.json` (SOURCES.md there says
from where). Confluent's definitions carry theirs inline (`example` under a response's media type); Astra's
official definition has none at the operation level, only per-field values, so it has nothing to replay.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE / "examples"

# Each definition's folder under examples/ (its plane, then its api-version) and the operations cmkctl uses
# in it, by operationId: the SDK operations the providers and the inventory call, and the GET a
# long-running PUT or PATCH's poller ends on. Role assignments are listed at a scope with
# `list_for_scope`; ARM serves the same request under ListForResource and ListForResourceGroup when the
# scope is a resource or a resource group, so their examples are the same operation's too.
USED: dict[str, tuple[str, tuple[str, ...]]] = {
    "keyvault/2026-05-15": (
        "upstream/azure-keyvault/specification/keyvault/resource-manager/Microsoft.KeyVault/KeyVault/stable/"
        "2026-05-15/openapi.json",
        ("Vaults_ListBySubscription", "Vaults_ListByResourceGroup", "Vaults_Get", "Vaults_CreateOrUpdate",
         "Vaults_Update", "Vaults_UpdateAccessPolicy", "Vaults_ListDeleted", "Keys_List", "Keys_Get",
         "Keys_CreateIfNotExist")),
    "keyvault-data/7.5": (
        "upstream/azure-keyvault-data/specification/keyvault/data-plane/Microsoft.KeyVault/stable/7.5/keys.json",
        ("GetKeyRotationPolicy", "UpdateKeyRotationPolicy")),
    "authorization/2022-04-01": (
        "upstream/azure-authorization/specification/authorization/resource-manager/Microsoft.Authorization/stable/"
        "2022-04-01/authorization-RoleAssignmentsCalls.json",
        ("RoleAssignments_ListForScope", "RoleAssignments_ListForResource", "RoleAssignments_ListForResourceGroup",
         "RoleAssignments_Create")),
    "cassandra/2025-10-15": (
        "upstream/azure-cassandra/specification/cosmos-db/resource-manager/Microsoft.DocumentDB/DocumentDB/stable/"
        "2025-10-15/managedCassandra.json",
        ("CassandraClusters_ListBySubscription", "CassandraClusters_ListByResourceGroup", "CassandraClusters_Get",
         "CassandraClusters_CreateUpdate", "CassandraClusters_Update", "CassandraDataCenters_List",
         "CassandraDataCenters_Get", "CassandraDataCenters_CreateUpdate", "CassandraDataCenters_Update")),
    "mongocluster/2026-06-01": (
        "upstream/azure-mongo/specification/mongocluster/resource-manager/Microsoft.DocumentDB/MongoCluster/stable/"
        "2026-06-01/mongoCluster.json",
        ("MongoClusters_List", "MongoClusters_ListByResourceGroup", "MongoClusters_Get",
         "MongoClusters_CreateOrUpdate", "MongoClusters_Update")),
    "msi/2024-11-30": (
        "upstream/azure-msi/specification/msi/resource-manager/Microsoft.ManagedIdentity/ManagedIdentity/stable/"
        "2024-11-30/ManagedIdentity.json",
        ("UserAssignedIdentities_ListBySubscription", "UserAssignedIdentities_ListByResourceGroup",
         "UserAssignedIdentities_CreateOrUpdate")),
}

# Referenced by a definition, but stored nowhere the search index reaches at that api-version (SOURCES.md
# says where each was looked for).
NOT_FOUND: dict[str, str] = {
    "authorization/2022-04-01/RoleAssignments_ListForResource.json": "not in the index at 2022-04-01",
    "cassandra/2025-10-15/CosmosDBManagedCassandraClusterListBySubscription.json": "not in the index at 2025-10-15",
    "cassandra/2025-10-15/CosmosDBManagedCassandraClusterGet.json": "not in the index at 2025-10-15",
    "cassandra/2025-10-15/CosmosDBManagedCassandraDataCenterGet.json": "not in the index at 2025-10-15",
    "cassandra/2025-10-15/CosmosDBManagedCassandraDataCenterCreate.json": "not in the index at 2025-10-15",
}


@dataclass(frozen=True)
class Example:
    """One x-ms-examples file of an operation cmkctl uses."""

    name: str  # "<plane>/<api-version>/NAME.json", its path under examples/
    operation_id: str
    method: str
    template: str  # the operation's path template

    @property
    def file(self) -> str:
        return self.name.rsplit("/", 1)[1]

    @functools.cached_property
    def document(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((EXAMPLES / self.name).read_text("utf-8"))
        return loaded

    @property
    def parameters(self) -> dict[str, Any]:
        found: dict[str, Any] = self.document["parameters"]
        return found

    def response(self, status: int) -> dict[str, Any]:
        found: dict[str, Any] = self.document["responses"][str(status)]
        return found

    @property
    def statuses(self) -> list[int]:
        return sorted(int(s) for s in self.document["responses"] if s.isdigit())

    def body(self, status: int) -> Any:
        return self.response(status).get("body")

    @property
    def final(self) -> Any:
        """What the operation ends with: its 200's body (a long-running PUT's 201 when it has no 200)."""
        return self.body(200) if 200 in self.statuses else self.body(min(self.statuses))


def _definition(relative: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((HERE / relative).read_text("utf-8"))
    return loaded


@functools.cache
def referenced() -> tuple[Example, ...]:
    """Every example the definitions name for the operations cmkctl uses, in the definitions' order."""
    found = []
    for folder, (relative, operation_ids) in USED.items():
        for template, item in _definition(relative)["paths"].items():
            for method, operation in item.items():
                if isinstance(operation, dict) and operation.get("operationId") in operation_ids:
                    for ref in operation.get("x-ms-examples", {}).values():
                        name = f"{folder}/{ref['$ref'].rsplit('/', 1)[1]}"
                        found.append(Example(name, operation["operationId"], method.upper(), template))
    return tuple(found)


def copied() -> tuple[Example, ...]:
    """The referenced examples held in examples/ (all but NOT_FOUND)."""
    return tuple(e for e in referenced() if e.name not in NOT_FOUND)


def by_name(name: str) -> Example:
    return next(e for e in referenced() if e.name == name or e.file == name)


def files_held() -> set[str]:
    return {p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*.json")}


# ---------------------------------------------------------------------------------------------
# Confluent's inline examples


CONFLUENT = {"byok/v1": "upstream/confluent/byok/v1/api/openapi.yaml",
             "cmk/v2": "upstream/confluent/cmk/v2/api/openapi.yaml"}
# The Confluent calls cmkctl makes (reconciler/providers/confluent.py).
CONFLUENT_USED = (("byok/v1", "GET", "/byok/v1/keys"), ("byok/v1", "POST", "/byok/v1/keys"),
                  ("byok/v1", "GET", "/byok/v1/keys/{id}"), ("cmk/v2", "GET", "/cmk/v2/clusters"),
                  ("cmk/v2", "POST", "/cmk/v2/clusters"), ("cmk/v2", "PATCH", "/cmk/v2/clusters/{id}"))


@dataclass(frozen=True)
class InlineExample:
    """A response example written into a Confluent definition: every one is an error envelope."""

    api: str
    method: str
    path: str
    status: int
    body: Any

    @property
    def name(self) -> str:
        return f"confluent/{self.api}: {self.method} {self.path} {self.status}"


@functools.cache
def _yaml(relative: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((HERE / relative).read_text("utf-8"))
    return loaded


def _follow(document: dict[str, Any], node: Any) -> Any:
    """`node` with its local `$ref` chain followed (`#/components/...`)."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _inline_of(api: str, method: str, path: str) -> Iterator[InlineExample]:
    document = _yaml(CONFLUENT[api])
    operation = document["paths"][path][method.lower()]
    for status, response in operation["responses"].items():
        for media in (_follow(document, response).get("content") or {}).values():
            if "example" in media:
                yield InlineExample(api, method, path, int(status), media["example"])


@functools.cache
def confluent_inline() -> tuple[InlineExample, ...]:
    return tuple(e for api, method, path in CONFLUENT_USED for e in _inline_of(api, method, path))
