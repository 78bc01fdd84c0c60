"""The conformance harness: each exchange the sandbox journalled, held against the published definition.

For one journalled call (`calls.jsonl`, with `CMKCTL_SANDBOX_JOURNAL_EXCHANGES=1`): the operation is found
by plane, api-version, method and path template; its path and query parameters must exist, the required
ones be present and each value validate against the parameter's schema (enums as the definition spells
them); the request body must validate against the body schema; the response status must be one the
operation declares (an error status may fall to `default`) and its body validate against that response's
schema. Calls the definitions do not contain fail, unless `allowances.py` allows them, naming a source.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft4Validator

from cmkctl_sandbox.state import read_calls
from tests.contracts import allowances
from tests.contracts.definitions import Operation, document, operations, parameters, pointer, registry, resolve

# What the session validated, per operation: the coverage table (see README.md) is printed from it.
COVERAGE: Counter[tuple[str, str, str]] = Counter()


@dataclass(frozen=True)
class Violation:
    plane: str
    method: str
    path: str
    status: int
    problem: str

    def __str__(self) -> str:
        return f"{self.plane} {self.method} {self.path} -> {self.status}: {self.problem}"


@functools.cache
def _validator(location: str, request: bool) -> Draft4Validator:
    return Draft4Validator({"$ref": location}, registry=registry(request))


def _errors(location: str, instance: Any, request: bool) -> list[str]:
    found = _validator(location, request).iter_errors(instance)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:300]}" for e in found]


# Planes whose definition is chosen by the api-version query parameter the call sends.
VERSIONED_PLANES = ("arm", "keyvault")


def operation_path(plane: str, path: str) -> str:
    """The call's path as its definition's templates spell it: Key Vault's data-plane paths are relative to
    the vault's host ({vaultBaseUrl}, its x-ms-parameterized-host), as the emulator journals them."""
    return path


def find_operation(plane: str, version: str, method: str, path: str) -> tuple[Operation | None, str]:
    """The most specific operation for the call, or None and why there is none."""
    versions = [op for op in operations() if op.plane == plane and (plane not in VERSIONED_PLANES
                                                                     or op.version == version)]
    if not versions:
        return None, f"no definition is read for api-version {version!r}"
    matching = [op for op in versions if op.pattern.match(path)]
    if not matching:
        return None, "no operation of the definitions has this path"
    exact = [op for op in matching if op.method == method]
    if not exact:
        return None, f"the path's operations are {sorted({op.method for op in matching})}, not {method}"
    return max(exact, key=lambda op: op.literal), ""


def check_call(call: dict[str, Any]) -> list[Violation]:
    """What is wrong with one journalled call; [] when it conforms or an allowance names it."""
    plane, method, path, status = call["plane"], call["method"], unquote(call["path"]), call["status"]
    if "requestBody" not in call and plane != "aws":
        return [Violation(plane, method, path, status, "journalled without its exchange (set the harness up)")]
    query: dict[str, str] = call.get("query") or {}
    operation, why = find_operation(plane, query.get("api-version", ""), method, operation_path(plane, path))
    if operation is None:
        if allowances.allowed(plane, method, path, query):
            COVERAGE[(plane, f"{method} {allowances.name_of(plane, method, path)}", "allowed")] += 1
            return []
        return [Violation(plane, method, path, status, why)]
    problems = [*_check_parameters(operation, operation_path(plane, path), query)]
    if not allowances.eliciting_challenge(call):
        problems += _check_body(operation, call.get("requestBody"))
    problems += _check_response(operation, call)
    COVERAGE[(plane, f"{operation.name} ({operation.version})", "validated")] += 1
    return [Violation(plane, method, path, status, p) for p in problems]


def _check_parameters(operation: Operation, path: str, query: dict[str, str]) -> Iterator[str]:
    declared = [(at, p) for at, p in parameters(operation) if p.get("in") in ("path", "query")]
    found = operation.pattern.match(path)
    assert found is not None
    path_values = dict(zip(_path_names(operation.template), found.groups(), strict=True))
    for name in query:
        if not any(p["in"] == "query" and p["name"] == name for _, p in declared):
            yield f"query parameter {name!r} is not declared"
    for at, param in declared:
        value = path_values.get(param["name"]) if param["in"] == "path" else query.get(param["name"])
        if value is None:
            if param.get("required"):
                yield f"required {param['in']} parameter {param['name']!r} is missing"
            continue
        yield from (f"{param['in']} parameter {param['name']!r}: {e}" for e in _parameter_errors(at, param, value))


def _path_names(template: str) -> list[str]:
    return re.findall(r"\{([^}]+)\}", template)


SWAGGER_VALUE_KEYWORDS = ("type", "enum", "pattern", "minLength", "maxLength", "minimum", "maximum", "format")


def _parameter_errors(at: str, param: dict[str, Any], value: str) -> list[str]:
    if "schema" in param:  # OpenAPI 3
        schema_at = at + pointer("schema")
        _, schema = resolve(schema_at, param["schema"])
    else:  # Swagger 2: the parameter holds its own value keywords
        schema = {k: param[k] for k in SWAGGER_VALUE_KEYWORDS if k in param}
        schema_at = ""
    typed = _typed(value, schema.get("type"))
    if not schema_at:
        return [e.message for e in Draft4Validator(schema).iter_errors(typed)]
    return _errors(schema_at, typed, request=True)


def _typed(value: str, kind: Any) -> Any:
    if kind == "integer" and value.lstrip("-").isdigit():
        return int(value)
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def _body_schema(operation: Operation) -> str | None:
    """Where the request body's schema is (URI#pointer), or None when the operation takes no body."""
    for at, param in parameters(operation):
        if param.get("in") == "body":
            return at + pointer("schema")
    op_at = operation.location
    body = document(operation.uri)["paths"][operation.template][operation.method.lower()].get("requestBody")
    if body is None:
        return None
    at, resolved = resolve(op_at + pointer("requestBody"), body)
    if "application/json" not in resolved.get("content", {}):
        return None
    return at + pointer("content", "application/json", "schema")


def _check_body(operation: Operation, body: Any) -> list[str]:
    schema_at = _body_schema(operation)
    if schema_at is None:
        return [] if body is None else ["the operation takes no request body, but one was sent"]
    if body is None:
        required = any(p.get("in") == "body" and p.get("required") for _, p in parameters(operation))
        return ["the required request body is missing"] if required else []
    return [f"request body {e}" for e in _errors(schema_at, body, request=True)]


def _response(operation: Operation, status: int) -> tuple[str, dict[str, Any]] | None:
    op_at = operation.location
    declared = document(operation.uri)["paths"][operation.template][operation.method.lower()]["responses"]
    key = str(status) if str(status) in declared else ("default" if status >= 400 and "default" in declared
                                                        else None)
    if key is None:
        return None
    return resolve(op_at + pointer("responses", key), declared[key])


def _response_schema(at: str, response: dict[str, Any]) -> str | None:
    if "schema" in response:  # Swagger 2
        return at + pointer("schema")
    if "application/json" in response.get("content", {}):
        return at + pointer("content", "application/json", "schema")
    return None


def _check_response(operation: Operation, call: dict[str, Any]) -> list[str]:
    if call.get("fault"):
        return []  # the fault injector's replies stand for the network and gateways, not the service
    status, body = call["status"], call.get("responseBody")
    found = _response(operation, status)
    if found is None:
        return [f"status {status} is not a response the operation declares"]
    schema_at = _response_schema(*found)
    if schema_at is None:
        return [] if body is None else [f"status {status} declares no body, but one was answered"]
    if body is None:
        return []
    return [f"response body {e}" for e in _errors(schema_at, body, request=False)]


def check_calls(calls: Iterable[dict[str, Any]]) -> list[Violation]:
    return [violation for call in calls for violation in check_call(call)]


def check_sandbox(directory: Path) -> list[Violation]:
    return check_calls(read_calls(directory))
