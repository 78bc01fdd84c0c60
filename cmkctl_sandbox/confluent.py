"""The Confluent Cloud API: BYOK keys (`/byok/v1/keys`) and Kafka clusters (`/cmk/v2/clusters`).

State lives in the `confluent` section: `keys` and `clusters` by id, and `validationReads`, how many
reads of a new BYOK key answer INITIALIZING at least (its validation phases: confluent_validation).
Errors use Confluent's envelope `{"errors": [{"id", "status", "code", "title", "detail", "source"}]}`.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any, NoReturn

from cmkctl_sandbox import confluent_aws
from cmkctl_sandbox import confluent_checks as checks
from cmkctl_sandbox import confluent_validation as validation
from cmkctl_sandbox.ids import stable_uuid
from cmkctl_sandbox.routes import Params, Route, dispatch, route
from cmkctl_sandbox.wire import Refusal, Reply, Request, State

API = "https://api.confluent.cloud"
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
# cmk/v2 spells a cluster's cloud AZURE; byok/v1 spells a key's provider Azure (AZURE until late 2025).
PROVIDERS = ("AWS", "AZURE", "GCP")
KEY_PROVIDERS = ("AWS", "Azure", "GCP")
AVAILABILITIES = ("SINGLE_ZONE", "MULTI_ZONE", "LOW", "HIGH")
CLUSTER_KINDS = ("Basic", "Standard", "Enterprise", "Dedicated")
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
          409: "Conflict", 422: "Unprocessable Entity"}


def empty_state() -> dict[str, Any]:
    return {"validationReads": 1, "keys": {}, "clusters": {}}


def confluent_error(status: int, detail: str, *, pointer: str = "", parameter: str = "", code: str = "",
                    title: str = "") -> Reply:
    entry: dict[str, Any] = {"id": str(uuid.uuid4()), "status": str(status), "code": code or _code(status),
                             "title": title or TITLES.get(status, "Error"), "detail": detail}
    if pointer or parameter:
        entry["source"] = {"pointer": pointer} if pointer else {"parameter": parameter}
    return Reply(status, {"errors": [entry]})


def _code(status: int) -> str:
    return {400: "invalid_input", 401: "unauthorized", 404: "not_found", 409: "conflict"}.get(status, "error")


def _refuse(status: int, detail: str, *, pointer: str = "", parameter: str = "") -> NoReturn:
    raise Refusal(confluent_error(status, detail, pointer=pointer, parameter=parameter))


def unauthorized(request: Request) -> Reply:
    return confluent_error(401, "missing or invalid Cloud API key (HTTP Basic authentication)")


def section(state: State) -> dict[str, Any]:
    found: dict[str, Any] = state["confluent"]
    return found


def _body(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        _refuse(400, "request body is not valid JSON")
    if not isinstance(body, dict):
        _refuse(400, "request body must be a JSON object")
    return body


def _page(items: list[dict[str, Any]], request: Request, path: str) -> dict[str, Any]:
    """One page and Confluent's `metadata` (absolute `next` URL carrying an opaque page token)."""
    try:
        size = int(request.query.get("page_size", DEFAULT_PAGE_SIZE))
        start = int(request.query.get("page_token", "o0").removeprefix("o"))
    except ValueError:
        _refuse(400, "page_size and page_token must come from a previous page", parameter="page_token")
    if not 1 <= size <= MAX_PAGE_SIZE:
        _refuse(400, f"page_size must be between 1 and {MAX_PAGE_SIZE}", parameter="page_size")
    metadata: dict[str, Any] = {"first": f"{API}{path}?page_size={size}", "total_size": len(items)}
    if start + size < len(items):
        extra = "".join(f"&{k}={v}" for k, v in request.query.items() if k not in ("page_size", "page_token"))
        metadata["next"] = f"{API}{path}?page_size={size}&page_token=o{start + size}{extra}"
    return {"metadata": metadata, "data": items[start:start + size]}


# ---- BYOK keys -------------------------------------------------------------------------------


def new_key_id(state: State) -> str:
    return "cck-" + stable_uuid("confluent-byok-key", str(len(section(state)["keys"]))).replace("-", "")[:10]


def key_record(state: State, key: dict[str, str], *, key_id: str = "", application_id: str = "") -> dict[str, Any]:
    key_id = key_id or new_key_id(state)
    application = application_id or stable_uuid("confluent-application", key_id)
    azure = {"kind": "AzureKey", **key, "application_id": application}
    return _record(state, key_id, azure, "Azure")


def aws_key_record(state: State, key_arn: str, *, key_id: str = "") -> dict[str, Any]:
    """An AwsKey's registration: Confluent answers the roles the key's policy must let in."""
    key_id = key_id or new_key_id(state)
    aws = {"kind": confluent_aws.AWS_KEY_KIND, "key_arn": key_arn, "roles": confluent_aws.roles_for(key_id)}
    return _record(state, key_id, aws, "AWS")


def _record(state: State, key_id: str, key: dict[str, Any], provider: str) -> dict[str, Any]:
    return {
        "id": key_id,
        "key": key,
        "provider": provider,
        "state": "AVAILABLE",
        "display_name": "",
        "created_at": validation.stamp(state),
        "reads": 0,
        "validation": validation.initial(state, key),
        "validationDue": validation.first_due(state),
    }


def _azure_key(key: dict[str, Any]) -> dict[str, str]:
    for field in ("key_id", "key_vault_id", "tenant_id"):
        if not isinstance(key.get(field), str) or not key[field]:
            _refuse(400, f"key.{field} is required", pointer=f"/key/{field}")
    if checks.VERSIONED_KEY_URI.match(key["key_id"]):
        _refuse(400, "key.key_id must be the key identifier without a version", pointer="/key/key_id")
    if not checks.KEY_URI.match(key["key_id"]):
        _refuse(400, "key.key_id must be an Azure Key Vault key identifier", pointer="/key/key_id")
    if not checks.VAULT_ID.match(key["key_vault_id"]):
        _refuse(400, "key.key_vault_id must be the resource ID of an Azure Key Vault", pointer="/key/key_vault_id")
    return {"key_id": key["key_id"], "key_vault_id": key["key_vault_id"], "tenant_id": key["tenant_id"]}


def _aws_key_arn(key: dict[str, Any]) -> str:
    arn = key.get("key_arn")
    if not isinstance(arn, str) or not arn:
        _refuse(400, "key.key_arn is required", pointer="/key/key_arn")
    if not confluent_aws.KEY_ARN.match(arn):
        _refuse(400, "key.key_arn must be the ARN of an AWS KMS key (arn:aws:kms:REGION:ACCOUNT:key/ID)",
                pointer="/key/key_arn")
    return arn


def create_key(request: Request, state: State, params: Params) -> Reply:
    key = _body(request).get("key")
    kind = key.get("kind") if isinstance(key, dict) else None
    if not isinstance(key, dict) or kind not in ("AzureKey", confluent_aws.AWS_KEY_KIND):
        _refuse(400, "key.kind must be AzureKey or AwsKey (the sandbox emulates no GCP keys)", pointer="/key/kind")
    if kind == confluent_aws.AWS_KEY_KIND:
        record = aws_key_record(state, _aws_key_arn(key))
    else:
        record = key_record(state, _azure_key(key))
    section(state)["keys"][record["id"]] = record
    return Reply(201, key_document(record))


def key_document(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "api_version": "byok/v1",
        "kind": "Key",
        "id": record["id"],
        "metadata": {"self": f"{API}/byok/v1/keys/{record['id']}", "resource_name": f"crn://confluent.cloud/"
                     f"byok={record['id']}", "created_at": record["created_at"]},
        "key": copy.deepcopy(record["key"]),
        "provider": record["provider"],
        "state": record["state"],
        "display_name": record["display_name"],
        "validation": dict(record["validation"]),
    }


def _key(state: State, key_id: str) -> dict[str, Any]:
    record: dict[str, Any] | None = section(state)["keys"].get(key_id)
    if record is None:
        _refuse(404, f"BYOK key {key_id} was not found")
    return record


def get_key(request: Request, state: State, params: Params) -> Reply:
    record = _key(state, params["id"])
    advanced = validation.observe(state, record)
    return Reply(200, key_document(record), advanced=advanced)


def _invalid_filter(parameter: str, allowed: tuple[str, ...]) -> NoReturn:
    """As the definition's example: 400 `invalid_filter`, naming the parameter."""
    raise Refusal(confluent_error(400, f"{parameter} must be exactly one of {', '.join(allowed)}",
                                  parameter=parameter, code="invalid_filter", title="Invalid Filter"))


def list_keys(request: Request, state: State, params: Params) -> Reply:
    provider, wanted_state = request.query.get("provider", ""), request.query.get("state", "")
    if provider and provider not in KEY_PROVIDERS:
        _invalid_filter("provider", KEY_PROVIDERS)
    matching = [r for r in section(state)["keys"].values()
                if provider in ("", r["provider"]) and wanted_state in ("", r["state"])]
    page = _page(matching, request, "/byok/v1/keys")
    advanced = [validation.observe(state, record) for record in page["data"]]
    return Reply(200, {"api_version": "byok/v1", "kind": "KeyList", "metadata": page["metadata"],
                       "data": [key_document(r) for r in page["data"]]}, advanced=any(advanced))


def delete_key(request: Request, state: State, params: Params) -> Reply:
    record = _key(state, params["id"])
    if record["state"] == "IN_USE":
        # 400: byok/v1 declares no 409 for a delete (204, 400, 401, 403, 404, 429, 500).
        _refuse(400, f"BYOK key {record['id']} is in use by a cluster and cannot be deleted")
    del section(state)["keys"][record["id"]]
    return Reply(204)


# ---- Clusters --------------------------------------------------------------------------------


def _environment(request: Request) -> str:
    environment = request.query.get("environment", "")
    if not environment:
        _refuse(400, "the environment query parameter is required", parameter="environment")
    return environment


def list_clusters(request: Request, state: State, params: Params) -> Reply:
    environment = _environment(request)
    matching = [c for c in section(state)["clusters"].values() if c["spec"]["environment"]["id"] == environment]
    page = _page(matching, request, "/cmk/v2/clusters")
    advanced = [_provisioning(c) for c in page["data"]]
    return Reply(200, {"api_version": "cmk/v2", "kind": "ClusterList", "metadata": page["metadata"],
                       "data": [_observed_cluster(c, was_provisioning)
                                for c, was_provisioning in zip(page["data"], advanced, strict=True)]},
                 advanced=any(advanced))


def _cluster(state: State, request: Request, cluster_id: str) -> dict[str, Any]:
    record: dict[str, Any] | None = section(state)["clusters"].get(cluster_id)
    if record is None or record["spec"]["environment"]["id"] != _environment(request):
        _refuse(404, f"Kafka cluster {cluster_id} was not found")
    return record


def get_cluster(request: Request, state: State, params: Params) -> Reply:
    record = _cluster(state, request, params["id"])
    was_provisioning = _provisioning(record)
    return Reply(200, _observed_cluster(record, was_provisioning), advanced=was_provisioning)


def _provisioning(record: dict[str, Any]) -> bool:
    """Provisioning a Dedicated cluster takes hours in life; here it is done by the second read.
    True when this read is the first (it still sees PROVISIONING, and moves the cluster on)."""
    if record["status"]["phase"] != "PROVISIONING":
        return False
    record["status"]["phase"] = "PROVISIONED"
    return True


def _observed_cluster(record: dict[str, Any], was_provisioning: bool) -> dict[str, Any]:
    if was_provisioning:
        return {**copy.deepcopy(record), "status": {**record["status"], "phase": "PROVISIONING"}}
    return copy.deepcopy(record)


def create_cluster(request: Request, state: State, params: Params) -> Reply:
    spec = _cluster_spec(_body(request))
    if "byok" in spec:
        _check_byok(state, spec)
    record = cluster_record(state, spec)
    section(state)["clusters"][record["id"]] = record
    return Reply(202, copy.deepcopy(record))


def cluster_record(state: State, spec: dict[str, Any], cluster_id: str = "") -> dict[str, Any]:
    cluster_id = cluster_id or "lkc-" + stable_uuid("confluent-cluster", str(len(section(state)["clusters"]))
                                                    ).replace("-", "")[:8]
    return {
        "api_version": "cmk/v2",
        "kind": "Cluster",
        "id": cluster_id,
        "metadata": {"self": f"{API}/cmk/v2/clusters/{cluster_id}", "created_at": validation.stamp(state),
                     "resource_name": f"crn://confluent.cloud/environment={spec['environment']['id']}/"
                     f"cloud-cluster={cluster_id}"},
        "spec": {**spec, **_references(spec), "kafka_bootstrap_endpoint":
                 f"SASL_SSL://{cluster_id}.{spec['region']}.{spec['cloud'].lower()}.confluent.cloud:9092"},
        "status": {"phase": "PROVISIONING", "cku": spec["config"].get("cku")},
    }


# Where each object a cluster refers to lives: cmk/v2 answers `related` and `resource_name` with every
# reference (they are required in its EnvScopedObjectReference and GlobalObjectReference).
_REFERENCED = {
    "environment": ("org/v2/environments", "environment"),
    "byok": ("byok/v1/keys", "byok"),
    "network": ("networking/v1/networks", "network"),
}


def _references(spec: dict[str, Any]) -> dict[str, Any]:
    found = {}
    for field, (collection, crn) in _REFERENCED.items():
        reference = spec.get(field)
        if isinstance(reference, dict) and isinstance(reference.get("id"), str):
            found[field] = {**reference, "related": f"{API}/{collection}/{reference['id']}",
                            "resource_name": f"crn://confluent.cloud/{crn}={reference['id']}"}
    return found


def _cluster_spec(body: dict[str, Any]) -> dict[str, Any]:
    spec = body.get("spec")
    if not isinstance(spec, dict):
        _refuse(400, "spec is required", pointer="/spec")
    for field in ("display_name", "cloud", "region", "availability"):
        if not isinstance(spec.get(field), str) or not spec[field]:
            _refuse(400, f"spec.{field} is required", pointer=f"/spec/{field}")
    if spec["cloud"] not in PROVIDERS:
        _refuse(400, f"spec.cloud must be one of {', '.join(PROVIDERS)}", pointer="/spec/cloud")
    if spec["availability"] not in AVAILABILITIES:
        _refuse(400, f"spec.availability must be one of {', '.join(AVAILABILITIES)}", pointer="/spec/availability")
    environment = spec.get("environment")
    if not isinstance(environment, dict) or not environment.get("id"):
        _refuse(400, "spec.environment.id is required", pointer="/spec/environment/id")
    _check_config(spec)
    return spec


def _check_config(spec: dict[str, Any]) -> None:
    config = spec.get("config")
    if not isinstance(config, dict) or config.get("kind") not in CLUSTER_KINDS:
        _refuse(400, f"spec.config.kind must be one of {', '.join(CLUSTER_KINDS)}", pointer="/spec/config/kind")
    if config["kind"] != "Dedicated":
        if "byok" in spec:
            _refuse(400, "self-managed encryption keys (byok) need a Dedicated cluster", pointer="/spec/byok")
        return
    cku = config.get("cku")
    if not isinstance(cku, int) or isinstance(cku, bool) or cku < 1:
        _refuse(400, "spec.config.cku must be a positive integer", pointer="/spec/config/cku")
    if spec["availability"] in ("MULTI_ZONE", "HIGH") and cku < 2:
        _refuse(400, "a multi-zone Dedicated cluster needs at least 2 CKUs", pointer="/spec/config/cku")


def _check_byok(state: State, spec: dict[str, Any]) -> None:
    """The key must exist and be VALID, usable from the cluster's region; it is IN_USE afterwards.

    Confluent's procedure provisions the cluster after a successful validation, and answers an error
    naming the key otherwise (seed 004): 400 at `/spec/byok/id`, as the sandbox refuses other fields.
    """
    byok = spec["byok"]
    if not isinstance(byok, dict) or not isinstance(byok.get("id"), str):
        _refuse(400, "spec.byok.id is required", pointer="/spec/byok/id")
    record: dict[str, Any] | None = section(state)["keys"].get(byok["id"])
    if record is None:
        _refuse(400, f"BYOK key {byok['id']} was not found", pointer="/spec/byok/id")
    if spec["cloud"].lower() != record["provider"].lower():
        _refuse(400, f"BYOK key {record['id']} is an {record['provider']} key; the cluster is on {spec['cloud']}",
                pointer="/spec/byok/id")
    if validation.initializing(state, record):
        _refuse(400, f"BYOK key {record['id']} is still being validated (INITIALIZING)", pointer="/spec/byok/id")
    # The key is validated again now: grants removed since, say, make it INVALID with the reason.
    reason = validation.reason(state, record, spec["region"])
    validation.settle(state, record, reason)
    if reason:
        _refuse(400, f"BYOK key {record['id']} is not valid: {reason}", pointer="/spec/byok/id")
    record["state"] = "IN_USE"


IMMUTABLE_SPEC = {
    "byok": "the encryption key (and mode) of a cluster is fixed at creation",
    "cloud": "a cluster cannot move to another cloud",
    "region": "a cluster cannot move to another region",
    "availability": "the availability of a cluster cannot change",
    "network": "the network of a cluster cannot change",
}


def update_cluster(request: Request, state: State, params: Params) -> Reply:
    spec = _body(request).get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("environment"), dict):
        _refuse(400, "spec.environment.id is required", pointer="/spec/environment/id")
    record = _cluster(state, Request("PATCH", request.path, {"environment": spec["environment"].get("id", "")},
                                     {}), params["id"])
    for field, reason in IMMUTABLE_SPEC.items():
        if field in spec and spec[field] != record["spec"].get(field):
            _refuse(400, f"spec.{field}: {reason}", pointer=f"/spec/{field}")
    if "config" in spec:
        merged = {**record["spec"], "config": {**record["spec"]["config"], **spec["config"]}}
        if merged["config"]["kind"] != record["spec"]["config"]["kind"]:
            _refuse(400, "spec.config.kind cannot change", pointer="/spec/config/kind")
        _check_config(merged)
        record["spec"]["config"] = merged["config"]
        record["status"]["cku"] = merged["config"].get("cku")
    if isinstance(spec.get("display_name"), str) and spec["display_name"]:
        record["spec"]["display_name"] = spec["display_name"]
    return Reply(200, copy.deepcopy(record))


ROUTES: tuple[Route, ...] = (
    route(r"^/byok/v1/keys", {"GET": list_keys, "POST": create_key}),
    route(r"^/byok/v1/keys/(?P<id>[^/]+)", {"GET": get_key, "DELETE": delete_key}),
    route(r"^/cmk/v2/clusters", {"GET": list_clusters, "POST": create_cluster}),
    route(r"^/cmk/v2/clusters/(?P<id>[^/]+)", {"GET": get_cluster, "PATCH": update_cluster}),
)


def handle(request: Request, state: State) -> Reply:
    return dispatch(
        ROUTES,
        request,
        state,
        not_found=lambda r: confluent_error(404, f"the sandbox does not emulate {r.path}"),
        not_allowed=lambda r: confluent_error(405, f"method {r.method} is not allowed on {r.path}"),
    )
