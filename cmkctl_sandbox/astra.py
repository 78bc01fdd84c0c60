"""The Astra DevOps API v2: customer keys (serverless and classic), provider accounts, databases."""

from __future__ import annotations

import datetime
import re
from typing import Any, NoReturn

from cmkctl_sandbox.ids import stable_aws_account, stable_uuid
from cmkctl_sandbox.routes import Params, Route, dispatch, route
from cmkctl_sandbox.wire import Refusal, Reply, Request, State

PRODUCTS = ("serverless", "managed-clusters")
PROVIDERS = ("aws", "gcp", "azure")
# Regions where the default world gives an Azure organization two provider accounts, so that code
# which assumes exactly one is caught.
TWO_ACCOUNT_AZURE_REGIONS = ("eastus", "westeurope")
AZURE_KEY_URI = re.compile(r"^https://[a-zA-Z0-9-]{3,24}\.vault\.azure\.net(:443)?/keys/[a-zA-Z0-9-]{1,127}/?$")
AWS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):[0-9]{12}:key/[A-Za-z0-9-]+$")
NON_TERMINATED_EXCLUDES = ("TERMINATED", "TERMINATING")
# GET /v2/databases `provider`, as the official client's definition enumerates it (case as written).
DATABASE_PROVIDER_FILTERS = ("ALL", "GCP", "AWS", "Azure")
# Astra error IDs are API-specific integers; these are the sandbox's own.
ERROR_IDS = {400: 2000400, 401: 340018, 403: 2000403, 404: 2000404, 405: 2000405, 409: 2000409}


def astra_error(status: int, message: str) -> Reply:
    return Reply(status, {"errors": [{"ID": ERROR_IDS.get(status, 2000000), "message": message}]})


def _refuse(status: int, message: str) -> NoReturn:
    raise Refusal(astra_error(status, message))


def _product(params: Params) -> str:
    return "managed-clusters" if "classic" in params else "serverless"


def _provider(params: Params) -> str:
    provider = params["provider"].lower()
    if provider not in PROVIDERS:
        _refuse(400, f"unsupported cloud provider '{params['provider']}'")
    return provider


def default_provider_ids(product: str, provider: str, region: str) -> list[str]:
    count = 2 if provider == "azure" and region in TWO_ACCOUNT_AZURE_REGIONS else 1
    make = stable_aws_account if provider == "aws" else stable_uuid
    return [make(product, provider, region, str(index)) for index in range(count)]


def provider_ids(state: State, product: str, provider: str, region: str) -> list[str]:
    """The accounts world.yaml declares for this (product, provider, region), else the defaults."""
    for entry in state["astra"]["accounts"]:
        if (entry["product"], entry["provider"], entry["region"]) == (product, provider, region):
            ids: list[str] = entry["providerIds"]
            return ids
    return default_provider_ids(product, provider, region)


def get_accounts(request: Request, state: State, params: Params) -> Reply:
    provider = _provider(params)
    ids = provider_ids(state, _product(params), provider, params["region"].lower())
    org = state["astra"]["orgId"]
    return Reply(200, [{"organization_id": org, "provider_id": i, "provider": provider} for i in ids])


def _registration(body: Any, org_id: str) -> dict[str, str]:
    """The key a POST /v2/kms body registers, or a 400/403 naming what is wrong with it."""
    if not isinstance(body, dict):
        _refuse(400, "request body must be a JSON object")
    if not isinstance(body.get("orgId"), str) or not body["orgId"]:
        _refuse(400, "orgId is required")
    if body["orgId"] != org_id:
        _refuse(403, f"orgId {body['orgId']} is not the organization of this token")
    given = [p for p in PROVIDERS if p in body]
    if len(given) != 1 or not isinstance(body[given[0]], dict):
        _refuse(400, "exactly one of aws, gcp or azure must be given")
    provider = given[0]
    details = body[provider]
    # The vendor's Azure procedure sends keyIdentifier, a third-party copy of the schema says keyID: the
    # procedure is followed, and only what cmkctl sends is accepted (tests/contracts/README.md).
    key_id = details.get("keyIdentifier" if provider == "azure" else "keyID")
    if not isinstance(key_id, str) or not key_id:
        _refuse(400, f"{provider}.{'keyIdentifier' if provider == 'azure' else 'keyID'} is required")
    if provider == "azure" and not AZURE_KEY_URI.match(key_id):
        _refuse(
            400,
            "azure.keyIdentifier must be a versionless Key Vault key URI (https://VAULT.vault.azure.net/keys/NAME)",
        )
    if not isinstance(details.get("region"), str) or not details["region"]:
        _refuse(400, f"{provider}.region is required")
    if provider == "aws" and not _is_kms_key_arn(key_id, details["region"].lower()):
        _refuse(400, f"aws.keyID must be the ARN of a KMS key in {details['region']} "
                "(arn:aws:kms:REGION:ACCOUNT:key/ID)")
    return {"provider": provider, "region": details["region"].lower(), "keyID": key_id}


def _is_kms_key_arn(key_id: str, region: str) -> bool:
    match = AWS_KEY_ARN.match(key_id)
    return match is not None and match["region"] == region


def register(request: Request, state: State, params: Params) -> Reply:
    try:
        body = request.json()
    except ValueError:
        _refuse(400, "request body is not valid JSON")
    wanted = _registration(body, state["astra"]["orgId"])
    registered = state["astra"]["keys"][_product(params)]
    if any((k["provider"], k["region"]) == (wanted["provider"], wanted["region"]) for k in registered):
        # 400: the official client's definition declares 400, 403, 404 and 500 for a registration, no 409.
        _refuse(
            400,
            f"a customer key is already registered for {wanted['provider']} region {wanted['region']}; "
            "only one key per provider and region is allowed, and replacing it requires a support ticket",
        )
    registered.append({**wanted, "registeredAt": datetime.datetime.now(datetime.UTC).isoformat()})
    # The official client's definition declares 200 with no body (the Terraform provider expects 201:
    # cmkctl takes any 2xx); the definition is the judge of what the sandbox answers.
    return Reply(200)


def list_keys(request: Request, state: State, params: Params) -> Reply:
    org = state["astra"]["orgId"]
    keys = state["astra"]["keys"][_product(params)]
    return Reply(
        200,
        [
            {
                "OrganizationID": org,
                "CloudProvider": k["provider"],
                "KeyID": k["keyID"],
                "Region": k["region"],
            }
            for k in keys
        ],
    )


def get_key(request: Request, state: State, params: Params) -> Reply:
    provider, region = _provider(params), params["region"].lower()
    for k in state["astra"]["keys"][_product(params)]:
        if (k["provider"], k["region"]) == (provider, region):
            return Reply(200, {"orgId": state["astra"]["orgId"], provider: {"keyID": k["keyID"], "region": region}})
    _refuse(404, f"no customer key found for provider {provider} region {region}")


def current_org(request: Request, state: State, params: Params) -> Reply:
    return Reply(200, {"id": state["astra"]["orgId"], "name": "sandbox organization"})


def list_databases(request: Request, state: State, params: Params) -> Reply:
    include = request.query.get("include", "nonterminated").upper()
    provider = request.query.get("provider", "ALL")
    if provider not in DATABASE_PROVIDER_FILTERS:
        _refuse(400, f"provider must be one of {', '.join(DATABASE_PROVIDER_FILTERS)}")
    matching = [
        db
        for db in state["astra"]["databases"]
        if _status_included(db["status"], include) and _on_provider(db, provider)
    ]
    return Reply(200, _page(matching, request.query))


def _on_provider(database: dict[str, Any], provider: str) -> bool:
    # The filter says Azure where a database's cloudProvider says AZURE.
    return provider == "ALL" or database["info"]["cloudProvider"].upper() == provider.upper()


def _status_included(status: str, include: str) -> bool:
    if include == "ALL":
        return True
    if include == "NONTERMINATED":
        return status not in NON_TERMINATED_EXCLUDES
    return status == include


def _page(databases: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
    try:
        limit = int(query.get("limit", "25"))
    except ValueError:
        _refuse(400, "limit must be an integer")
    if not 1 <= limit <= 100:
        _refuse(400, "limit must be between 1 and 100")
    after = query.get("starting_after")
    ids = [db["id"] for db in databases]
    start = ids.index(after) + 1 if after in ids else 0
    return databases[start : start + limit]


_KMS = r"^/v2/kms(?P<classic>/classic)?"
_KMS_REGION = _KMS + r"/provider/(?P<provider>[^/]+)/region/(?P<region>[^/]+)"
ROUTES: tuple[Route, ...] = (
    route(r"^/v2/currentOrg", {"GET": current_org}),
    route(r"^/v2/databases", {"GET": list_databases}),
    route(r"^/v2/kms/serverless", {"GET": list_keys, "POST": register}),
    route(_KMS, {"GET": list_keys, "POST": register}),
    route(_KMS_REGION, {"GET": get_key}),
    route(_KMS_REGION + r"/accounts", {"GET": get_accounts}),
)


def unauthorized(request: Request) -> Reply:
    return astra_error(401, "missing or invalid bearer token")


def handle(request: Request, state: State) -> Reply:
    return dispatch(
        ROUTES,
        request,
        state,
        not_found=lambda r: astra_error(404, f"the sandbox does not emulate {r.path}"),
        not_allowed=lambda r: astra_error(405, f"method {r.method} is not allowed on {r.path}"),
    )
