"""Calls cmkctl makes that no definition in `upstream/` or `astra/` contains, each with its public source.

A call that matches none of these and no operation of the definitions fails the harness. Keep each
entry as narrow as the source: a path template, the method, and where the call is documented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Allowance:
    plane: str
    method: str
    template: str  # for the coverage table
    pattern: re.Pattern[str]
    source: str


def _allow(plane: str, method: str, template: str, source: str) -> Allowance:
    regex = re.escape(template).replace(r"\{name\}", "[^/]+").replace(r"\{ids\}", ".+")
    return Allowance(plane, method, template, re.compile("^" + regex + "$", re.IGNORECASE), source)


_ASTRA_CLASSIC = ("Astra's Managed Clusters procedure, 'Encrypt Astra Managed Clusters databases with AWS Key "
                  "Management Service customer managed keys' (DataStax docs), steps 'GET .../v2/kms/classic/provider/"
                  "aws/region/REGION/accounts' and 'POST .../v2/kms/classic'")
_GRAPH = ("Microsoft Graph v1.0 servicePrincipal: learn.microsoft.com/graph/api/serviceprincipal-post-serviceprincipals "
          "and /serviceprincipal-get, /graph/filter-query-parameter (summarised in upstream/graph/)")
_ARM_ASYNC = ("Azure Resource Manager asynchronous operations: a client polls the Azure-AsyncOperation or Location "
              "URL the service answered, whatever its path (Azure/azure-resource-manager-rpc, v1.0/"
              "async-api-reference.md); the sandbox answers these URLs on its PUT and PATCH of mongoClusters")
_COSMOS_ASYNC = ("Azure Resource Manager asynchronous operations (Azure/azure-resource-manager-rpc, v1.0/"
                 "async-api-reference.md): Cosmos DB's Azure-AsyncOperation URL for cassandraClusters and their "
                 "dataCenters, as CosmosDBManagedCassandraClusterPatch.json and ...DataCenterPatch.json (2025-10-15) "
                 "and azure-cli's recorded managed-cassandra cluster create name it")

ALLOWANCES: tuple[Allowance, ...] = (
    _allow("astra", "GET", "/v2/kms/classic/provider/{name}/region/{name}/accounts", _ASTRA_CLASSIC),
    _allow("astra", "POST", "/v2/kms/classic", _ASTRA_CLASSIC),
    # Not in the official client's definition; the Astra DevOps API 2.3.0 as published in the third-party copy
    # tests/contracts/astra/datastax-devops-openapi.json (api-evangelist/datastax) lists it: an array of keys.
    _allow("astra", "GET", "/v2/kms/classic", "Astra DevOps API 2.3.0, GET /v2/kms/classic (datastax-devops-openapi.json)"),
    _allow("astra", "GET", "/v2/kms/classic/provider/{name}/region/{name}",
           "Astra DevOps API 2.3.0, GET /v2/kms/classic/provider/{provider}/region/{region} (datastax-devops-openapi.json)"),
    _allow("graph", "POST", "/v1.0/servicePrincipals", _GRAPH),
    _allow("graph", "GET", "/v1.0/servicePrincipals", _GRAPH),
    _allow("graph", "GET", "/v1.0/servicePrincipals(appId='{name}')", _GRAPH),
    _allow("graph", "GET", "/v1.0/servicePrincipals/{name}", _GRAPH),
    _allow("arm", "GET", "/subscriptions/{name}/providers/Microsoft.DocumentDB/locations/{name}/"
                         "mongoClusterAzureAsyncOperation/{name}", _ARM_ASYNC),
    _allow("arm", "GET", "/subscriptions/{name}/providers/Microsoft.DocumentDB/locations/{name}/"
                         "mongoClusterOperationResults/{name}", _ARM_ASYNC),
    _allow("arm", "GET", "/subscriptions/{name}/providers/Microsoft.DocumentDB/locations/{name}/"
                         "operationsStatus/{name}", _COSMOS_ASYNC),
)

# AWS KMS and STS calls are journalled as `service:Action`. boto3 validates each request against botocore's
# own service model (botocore/data/kms/2014-11-01/service-2.json) before sending it, and moto answers: the
# published definition already judges them on the client side.
AWS_SOURCE = "botocore's service models (kms 2014-11-01, sts 2011-06-15), validated by boto3 before sending"


# Key Vault's data plane authenticates by challenge: "a request without a bearer token is answered 401 with a
# WWW-Authenticate header naming the authority and resource" (Key Vault docs, "Authentication, requests and
# responses", learn.microsoft.com/azure/key-vault/general/authentication-requests-and-responses). To elicit it,
# azure-keyvault-keys sends its first request without a token and without its body (ChallengeAuthPolicy), then
# the same request whole, with the token; that retry is judged like any other call.
CHALLENGE_SOURCE = ("Key Vault authentication, requests and responses: the 401 bearer challenge; "
                    "azure-keyvault-keys ChallengeAuthPolicy sends the first request without its body")


def eliciting_challenge(call: dict[str, Any]) -> bool:
    """The bodiless first request a Key Vault client sends for the challenge: its body is not asked for."""
    return call["plane"] == "keyvault" and call["status"] == 401 and call.get("requestBody") is None


def _matching(plane: str, method: str, path: str) -> Allowance | None:
    return next((a for a in ALLOWANCES if a.plane == plane and a.method == method and a.pattern.match(path)), None)


def allowed(plane: str, method: str, path: str, query: dict[str, str]) -> bool:
    if plane == "aws":
        return re.fullmatch(r"(kms|sts):[A-Za-z]+", path) is not None
    if plane == "graph" and not _graph_filter_ok(query):
        return False
    return _matching(plane, method, path) is not None


def _graph_filter_ok(query: dict[str, str]) -> bool:
    # "the request is limited to 15 expressions in the filter clause" (Graph known issues)
    return query.get("$filter", "").count(",") < 15 and set(query) <= {"$filter", "$select", "$top"}


def name_of(plane: str, method: str, path: str) -> str:
    if plane == "aws":
        return path
    found = _matching(plane, method, path)
    return found.template if found else path
