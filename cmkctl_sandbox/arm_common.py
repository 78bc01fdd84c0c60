"""ARM conventions shared by the vault, key and role-assignment handlers."""

from __future__ import annotations

import datetime
from typing import Any, NoReturn

from cmkctl_sandbox.wire import Refusal, Reply, Request, State

# Long-running operations (operations.py) answer no Retry-After: the live recordings of Mongo vCore's
# and Managed Cassandra's operations carry none, so clients poll after their own interval. Never on a
# 4xx either: azure-core retries any error that carries it.


def in_group(records: dict[str, Any], params: dict[str, str]) -> list[Any]:
    """The records of one resource group, by the `sub/rg/name` keys ARM sections are stored under."""
    prefix = f"{params['sub']}/{params['rg']}/".lower()
    return [record for key, record in records.items() if key.startswith(prefix)]


def in_subscription(records: dict[str, Any], params: dict[str, str]) -> list[Any]:
    """The records of one subscription, every resource group (ARM's ListBySubscription)."""
    prefix = f"{params['sub']}/".lower()
    return [record for key, record in records.items() if key.startswith(prefix)]


def arm_error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


def refuse(status: int, code: str, message: str) -> NoReturn:
    raise Refusal(arm_error(status, code, message))


def bad_request(message: str) -> NoReturn:
    refuse(400, "BadRequest", message)


def json_object(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError as e:
        refuse(
            400,
            "InvalidRequestContent",
            f"The request content was invalid and could not be deserialized: {e}",
        )
    if not isinstance(body, dict):
        refuse(400, "InvalidRequestContent", "The request content must be a JSON object.")
    return body


def resource_not_found(resource_type: str, name: str, resource_group: str) -> NoReturn:
    refuse(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def arm_section(state: State) -> dict[str, Any]:
    section: dict[str, Any] = state["arm"]
    return section


def tenant_id(state: State) -> str:
    tenant: str = state["graph"]["tenantId"]
    return tenant


def now_iso() -> str:
    # ARM stamps role assignments with seven fractional digits; six are enough for any parser.
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def api_version(request: Request) -> str:
    return request.query.get("api-version", "")
