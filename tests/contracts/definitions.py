"""The published definitions in `upstream/` and `astra/`, loaded once, as JSON Schema and an operation index.

Swagger 2.0 and OpenAPI 3.0 schemas are nearly JSON Schema draft 4. The adapter below rewrites the few
keywords that are not (`x-nullable`/`nullable`, Confluent's `x-extensible-enum`), and a request view drops
`readOnly` properties from `required` (a client never sends what the server computes). `jsonschema` does the
validating and `referencing` resolves every `$ref`, across files, by the files' own relative paths.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

HERE = Path(__file__).resolve().parent
METHODS = ("get", "put", "post", "patch", "delete")

# plane, api-version as sent (ARM's ?api-version=; for the others the definition's own name), file.
DOCUMENTS: tuple[tuple[str, str, str], ...] = (
    ("arm", "2026-05-15", "upstream/azure-keyvault/specification/keyvault/resource-manager/Microsoft.KeyVault/"
                          "KeyVault/stable/2026-05-15/openapi.json"),
    ("arm", "2022-04-01", "upstream/azure-authorization/specification/authorization/resource-manager/"
                          "Microsoft.Authorization/stable/2022-04-01/authorization-RoleAssignmentsCalls.json"),
    ("arm", "2025-10-15", "upstream/azure-cassandra/specification/cosmos-db/resource-manager/Microsoft.DocumentDB/"
                          "DocumentDB/stable/2025-10-15/managedCassandra.json"),
    ("arm", "2026-06-01", "upstream/azure-mongo/specification/mongocluster/resource-manager/Microsoft.DocumentDB/"
                          "MongoCluster/stable/2026-06-01/mongoCluster.json"),
    ("arm", "2024-11-30", "upstream/azure-msi/specification/msi/resource-manager/Microsoft.ManagedIdentity/"
                          "ManagedIdentity/stable/2024-11-30/ManagedIdentity.json"),
    # Key Vault's data plane; its paths are relative to {vaultBaseUrl} (an x-ms-parameterized-host).
    ("keyvault", "7.5", "upstream/azure-keyvault-data/specification/keyvault/data-plane/Microsoft.KeyVault/stable/"
                        "7.5/keys.json"),
    ("confluent", "byok/v1", "upstream/confluent/byok/v1/api/openapi.yaml"),
    ("confluent", "cmk/v2", "upstream/confluent/cmk/v2/api/openapi.yaml"),
    # The official Astra client's definition; its third-party copy (datastax-devops-openapi.json) is kept
    # for the record of where the two disagree (see README.md), not as a judge.
    ("astra", "v2", "astra/astra-devops-api.yaml"),
)

# managedCassandra.json refers to three definitions of the combined cosmos-db.json of its folder, which
# SOURCES.md records as not copied (377,872 characters). These stand-ins are what ARM's common types
# define for the same names; nothing else of cosmos-db.json is read.
COSMOS_DB_STUBS: dict[str, Any] = {
    "swagger": "2.0",
    "definitions": {
        "CloudError": {
            "type": "object",
            "properties": {"error": {"type": "object", "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}, "target": {"type": "string"}}}},
        },
        "Tags": {"type": "object", "additionalProperties": {"type": "string"}},
        "ARMProxyResource": {"type": "object", "properties": {
            "id": {"type": "string", "readOnly": True}, "name": {"type": "string", "readOnly": True},
            "type": {"type": "string", "readOnly": True}}},
    },
}
COSMOS_DB_FILE = ("upstream/azure-cassandra/specification/cosmos-db/resource-manager/Microsoft.DocumentDB/"
                  "DocumentDB/stable/2025-10-15/cosmos-db.json")


@dataclass(frozen=True)
class Operation:
    plane: str
    version: str
    method: str
    template: str
    pattern: re.Pattern[str]
    literal: int  # characters outside {parameters}: the most specific template wins
    uri: str  # the document, as the registries know it
    pointer: str  # JSON pointer to the operation object in that document
    source: str  # the definition file, relative to tests/contracts/

    @property
    def location(self) -> str:
        return f"{self.uri}#{self.pointer}"

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"


def uri_of(relative: str) -> str:
    return (HERE / relative).as_uri()


def pointer(*parts: str | int) -> str:
    return "".join("/" + quote(str(p).replace("~", "~0").replace("/", "~1"), safe="") for p in parts)


def _adapt(node: Any, request: bool) -> Any:
    if isinstance(node, list):
        return [_adapt(item, request) for item in node]
    if not isinstance(node, dict):
        return node
    adapted = {key: _adapt(value, request) for key, value in node.items()}
    if isinstance(adapted.get("x-extensible-enum"), list) and "enum" not in adapted:
        adapted["enum"] = adapted["x-extensible-enum"]
    if request and isinstance(adapted.get("required"), list) and isinstance(adapted.get("properties"), dict):
        properties = adapted["properties"]
        adapted["required"] = [n for n in adapted["required"] if not properties.get(n, {}).get("readOnly")]
    if adapted.get("x-nullable") is True or adapted.get("nullable") is True:
        return {"anyOf": [adapted, {"type": "null"}]}
    return adapted


def _read(path: Path) -> Any:
    text = path.read_text("utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def _definition_files() -> Iterator[Path]:
    for folder in (HERE / "upstream", HERE / "astra"):
        yield from sorted(p for p in folder.rglob("*") if p.suffix in (".json", ".yaml"))


def _astra_error_erratum(documents: dict[str, Any]) -> None:
    # The official Astra definition's Error requires `id` but names the property `ID` (an integer); the
    # service, the third-party copy and the vendor's examples say `ID`. Read as required: ID, message.
    error = documents[uri_of("astra/astra-devops-api.yaml")]["components"]["schemas"]["Error"]
    error["required"] = ["ID" if name == "id" else name for name in error["required"]]


@functools.cache
def raw_documents() -> dict[str, Any]:
    """Every definition file, by URI, as published, but for the errata below (listed in README.md)."""
    documents = {path.as_uri(): _read(path) for path in _definition_files()}
    documents[uri_of(COSMOS_DB_FILE)] = COSMOS_DB_STUBS
    _astra_error_erratum(documents)
    return documents


@functools.cache
def registry(request: bool) -> Registry[Any]:
    """Every definition file as a draft-4 resource; `request` is the view a request body is held to."""
    resources = [(uri, Resource(contents=_adapt(doc, request), specification=DRAFT4))
                 for uri, doc in raw_documents().items()]
    return Registry().with_resources(resources)  # type: ignore[no-any-return]


def document(uri: str) -> Any:
    return registry(False).contents(uri)


def _template_pattern(template: str, skip_encoding: frozenset[str], optional: frozenset[str]) -> re.Pattern[str]:
    regex, last = "", 0
    for found in re.finditer(r"\{([^}]+)\}", template):
        regex += re.escape(template[last:found.start()])
        name = found.group(1)
        regex += "(.+)" if name in skip_encoding else "([^/]*)" if name in optional else "([^/]+)"
        last = found.end()
    return re.compile("^" + regex + re.escape(template[last:]) + "/?$", re.IGNORECASE)


def parameters(operation: Operation) -> list[tuple[str, dict[str, Any]]]:
    """The operation's parameters, the path item's first, each with where it is defined."""
    item_at = operation.uri + "#" + pointer("paths", operation.template)
    item = document(operation.uri)["paths"][operation.template]
    found = [resolve(f"{item_at}{pointer('parameters', i)}", p) for i, p in enumerate(item.get("parameters", []))]
    op_at = operation.location
    declared = item[operation.method.lower()].get("parameters", [])
    found += [resolve(f"{op_at}{pointer('parameters', i)}", p) for i, p in enumerate(declared)]
    return found


def _skip_encoding(found: list[tuple[str, dict[str, Any]]]) -> frozenset[str]:
    return frozenset(p["name"] for _, p in found if p.get("x-ms-skip-url-encoding"))


# Key Vault's GetKey says of its key-version: "This URI fragment is optional. If not specified, the latest
# version of the key is returned." azure-keyvault-keys then sends it empty (`/keys/{key-name}/`).
OPTIONAL_FRAGMENT = "This URI fragment is optional."


def _optional_segments(found: list[tuple[str, dict[str, Any]]]) -> frozenset[str]:
    return frozenset(p["name"] for _, p in found
                     if p.get("in") == "path" and OPTIONAL_FRAGMENT in p.get("description", ""))


def _operations_of(plane: str, version: str, relative: str) -> Iterator[Operation]:
    uri = uri_of(relative)
    for template, item in document(uri)["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            unmatched = Operation(plane, version, method.upper(), template, re.compile(""), 0, uri,
                                  pointer("paths", template, method), relative)
            declared = parameters(unmatched)
            pattern = _template_pattern(template, _skip_encoding(declared), _optional_segments(declared))
            literal = len(re.sub(r"\{[^}]+\}", "", template))
            yield dataclasses.replace(unmatched, pattern=pattern, literal=literal)


@functools.cache
def operations() -> tuple[Operation, ...]:
    return tuple(op for plane, version, relative in DOCUMENTS for op in _operations_of(plane, version, relative))


def resolve(location: str, node: Any) -> tuple[str, Any]:
    """`node` (found at `location`, a URI with a JSON-pointer fragment) with its `$ref` chain followed:
    where the chain ends, and what is there. Swagger files have no `id`: a ref is relative to its file."""
    resolver = registry(False).resolver()
    while isinstance(node, dict) and "$ref" in node:
        location = urljoin(location, node["$ref"])
        node = resolver.lookup(location).contents
    return location, node
