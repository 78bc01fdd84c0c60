"""ARM's long-running operations: a write starts one, it runs for a while of the emulator's time, and
it ends Succeeded or Failed.

ARM's asynchronous API reference (azure-resource-manager-rpc, v1.0/async-api-reference.md) is the
contract: while the operation runs, the resource's provisioningState is non-terminal and its GETs say
so; the operation's status resource (`Azure-AsyncOperation`) answers 200 with `status` (the service's
own running values, then Succeeded, Failed or Canceled) and, when Failed, `error: {code, message}`;
an update that failed has its properties put back. Each kind of write names the lag its operation
runs for (`Operation.lag`, one of realism.py's, each with its source in README.md); time moves only
as the emulator's clock does (clock.py), so a client that waits on it waits in milliseconds.

Operations finish lazily: every ARM request first completes those whose time has come
(`complete_due`), so a GET of the resource and a GET of the status agree, whichever comes first.
The state keeps every operation under `arm.operations` (pruned a day after it ended) and the ones
still running under `arm.pendingOperations`, so that finishing them costs as little as there are
running. `arm.operationFaults` holds the configured failures (faults.yaml `failOperations`).
"""

from __future__ import annotations

import copy
import datetime
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cmkctl_sandbox import clock, realism
from cmkctl_sandbox.arm_common import arm_section
from cmkctl_sandbox.wire import Request, State

SECTION = "operations"
PENDING = "pendingOperations"
FAULTS = "operationFaults"
SUCCEEDED = {"provisioningState": "Succeeded"}
FAILED = {"provisioningState": "Failed"}
# A failure is known soon after the operation starts: a service that cannot reach the key fails at
# its first use of it, not after a whole deployment. No source gives this time (README.md, "without
# a source").
FAILS_AFTER = 30.0
# How long a finished operation's status stays answerable.
RETENTION = 24 * 3600.0


@dataclass(frozen=True)
class Operation:
    """What a write asks of `start`."""

    target: tuple[str, ...]   # where the resource's document is in the state: ("arm", "mongoClusters", key)
    lag: str                  # the realism lag (realism.py) it runs for when it succeeds
    running: str = "InProgress"  # the status its status resource answers until it ends
    done: Mapping[str, str] = field(default_factory=lambda: dict(SUCCEEDED))
    # The reason it fails ({code, message}), decided when it starts (the key the service cannot reach).
    error: Mapping[str, str] | None = None
    # The resource's properties before an update: put back if the update fails.
    restore: Mapping[str, Any] | None = None


def start(state: State, request: Request, operation: Operation) -> str:
    """Record a new operation on `operation.target` and return its id; a configured failure for
    this request (faults.yaml `failOperations`) wins over the operation's own outcome."""
    operations = arm_section(state).setdefault(SECTION, {})
    pending = arm_section(state).setdefault(PENDING, {})
    _prune(state, operations)
    target = list(operation.target)
    for other in pending:
        if operations[other]["target"] == target:
            # A newer write to the same resource decides what it becomes; the older one only ends.
            operations[other]["superseded"] = True
    error = _injected(state, request) or operation.error
    now = clock.now(state)
    seconds = realism.seconds(state, operation.lag)
    identifier = str(uuid.uuid4())
    operations[identifier] = {
        "target": target, "status": operation.running, "startTime": now,
        "due": now + (min(FAILS_AFTER, seconds) if error else seconds),
        "done": dict(operation.done), "error": dict(error) if error else None,
        "restore": copy.deepcopy(dict(operation.restore)) if operation.restore is not None else None,
    }
    pending[identifier] = operations[identifier]["due"]
    return identifier


def complete_due(state: State) -> bool:
    """End every operation whose time has come; True when one did (the state changed)."""
    pending: dict[str, float] | None = arm_section(state).get(PENDING)
    if not pending:
        return False
    now = clock.now(state)
    due = [identifier for identifier, at in pending.items() if at <= now]
    for identifier in due:
        _end(state, arm_section(state)[SECTION][identifier], now)
        del pending[identifier]
    return bool(due)


def _end(state: State, record: dict[str, Any], now: float) -> None:
    record["status"] = "Failed" if record["error"] else "Succeeded"
    record["endTime"] = now
    resource = None if record.get("superseded") else _resource(state, record["target"])
    if resource is None:
        return
    if record["error"] is None:
        resource.setdefault("properties", {}).update(record["done"])
        return
    if record["restore"] is not None:
        resource["properties"] = record["restore"]
    resource["properties"].update(FAILED)


def _resource(state: State, target: Sequence[str]) -> dict[str, Any] | None:
    found: Any = state
    for name in target:
        found = found.get(name) if isinstance(found, dict) else None
    return found if isinstance(found, dict) else None


def status(state: State, identifier: str, path: str, *, described: bool = True) -> dict[str, Any] | None:
    """The operation's status resource as ARM's async reference shapes it, or None when unknown.

    `described`: with the optional `id`, `name`, `startTime` and `endTime` (Mongo vCore's recording
    has them; Managed Cassandra's answers `status` alone).
    """
    record = arm_section(state).get(SECTION, {}).get(identifier)
    if record is None:
        return None
    document: dict[str, Any] = {"status": record["status"]}
    if described:
        document.update({"id": path, "name": identifier, "startTime": iso(record["startTime"])})
        if "endTime" in record:
            document["endTime"] = iso(record["endTime"])
    if record["status"] == "Failed":
        document["error"] = dict(record["error"])
    return document


def record_of(state: State, identifier: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = arm_section(state).get(SECTION, {}).get(identifier)
    return found


def iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _prune(state: State, operations: dict[str, Any]) -> None:
    """Forget operations that ended more than RETENTION ago, oldest first (they end roughly in order)."""
    horizon = clock.now(state) - RETENTION
    while operations:
        oldest = next(iter(operations))
        ended = operations[oldest].get("endTime")
        if ended is None or ended > horizon:
            return
        del operations[oldest]


# ---- configured failures (faults.yaml `failOperations`) ----------------------------------------


def configure_failures(state: State, failures: Sequence[Mapping[str, Any]]) -> None:
    """Make the writes that match each entry's method and path start an operation that fails with
    its code and message, `times` times (None: every time); none: forget any configured before."""
    if failures:
        arm_section(state)[FAULTS] = [dict(entry) for entry in failures]
    else:
        arm_section(state).pop(FAULTS, None)


def _injected(state: State, request: Request) -> dict[str, str] | None:
    for entry in arm_section(state).get(FAULTS) or ():
        if entry["method"] != request.method or entry["path"].lower() not in request.path.lower():
            continue
        if entry["times"] is not None:
            if entry["times"] <= 0:
                continue
            entry["times"] -= 1
        return {"code": entry["code"], "message": entry["message"]}
    return None


def status_url(request: Request, subscription: str, namespace: str, location: str, collection: str,
               identifier: str) -> str:
    """An operation's URL under its subscription and location, on the host the client called (ARM's
    async reference: "Location URI under subscription scope is preferred"), with the request's api-version."""
    region = location.replace(" ", "").lower()
    return (f"https://{request.header('host')}/subscriptions/{subscription}/providers/{namespace}/locations/{region}/"
            f"{collection}/{identifier}?api-version={request.query.get('api-version', '')}")


def resource_of(state: State, record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The document of the resource an operation was on, or None when it is gone."""
    return _resource(state, record["target"])
