"""A Confluent BYOK key's validation, in the emulator's time: INITIALIZING, then INVALID or VALID, re-validated.

The byok/v1 definition (`byok.v1.KeyValidation.phase`): INITIALIZING is a new key's phase before its
first validation; VALID and INVALID are the result of the last validation attempt, so an INVALID key
is validated again. Here a new key is INITIALIZING for realism's `confluentValidation` seconds (and
for the world's `validationReads` reads, which tests count), then each read validates it afresh
until it is VALID: INVALID, with Confluent's message, while Confluent's application cannot use the
key (no service principal, a missing role, or grants that have not propagated yet, propagation.py),
or with the reason the sandbox's checks give (confluent_checks); VALID once it can. A key that was
made VALID stays so; one `breakage.report_invalid` marked keeps its INVALID.
"""

from __future__ import annotations

import datetime
from typing import Any

from cmkctl_sandbox import clock, confluent_aws, graph, propagation, realism
from cmkctl_sandbox import confluent_checks as checks
from cmkctl_sandbox.wire import State

PHASES = ("INITIALIZING", "VALID", "INVALID")


def stamp(state: State) -> str:
    """The emulator's time now, as Confluent writes a timestamp."""
    return datetime.datetime.fromtimestamp(clock.now(state), datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def initial(state: State, key: dict[str, Any]) -> dict[str, Any]:
    """A new key's validation: INITIALIZING."""
    return {"phase": "INITIALIZING", "message": "", "since": stamp(state), "region": key_region(state, key)}


def key_region(state: State, key: dict[str, Any]) -> str:
    """The region of the key a BYOK key registers: its ARN's, or its vault's."""
    if confluent_aws.is_aws(key):
        return confluent_aws.key_region(key)
    return checks.vault_region(state, key["key_vault_id"])


def first_due(state: State) -> float:
    """When a key registered now is first validated, in the emulator's time."""
    return clock.now(state) + realism.seconds(state, realism.CONFLUENT_VALIDATION)


def observe(state: State, record: dict[str, Any]) -> bool:
    """A read of the key: validated if its first validation is due and it is not VALID yet.

    True when the read changed the record (see `Reply.advanced`).
    """
    if record["validation"]["phase"] == "VALID" or record.get("heldInvalid"):
        return False
    record["reads"] += 1
    if not initializing(state, record):
        settle(state, record, reason(state, record))
    return True


def reason(state: State, record: dict[str, Any], cluster_region: str = "") -> str:
    """Why Confluent cannot use the key now (its validation's message), or ""."""
    if confluent_aws.is_aws(record["key"]):
        return confluent_aws.problem(state, record["key"], cluster_region)
    found = checks.problem(state, record["key"], cluster_region)
    if found:
        return found
    principal = graph.by_app_id(state, record["key"].get("application_id", ""))
    if principal is not None and not propagation.propagated(state, principal["id"]):
        return checks.ACCESS_DENIED
    return ""


def settle(state: State, record: dict[str, Any], why: str) -> None:
    """The result of one validation: INVALID with `why`, or VALID; `since` moves when either changes."""
    phase = "INVALID" if why else "VALID"
    validation = record["validation"]
    if (validation["phase"], validation["message"]) != (phase, why):
        validation.update(phase=phase, message=why, since=stamp(state), region=key_region(state, record["key"]))


def initializing(state: State, record: dict[str, Any]) -> bool:
    """Whether the key's first validation is still to come."""
    if record["validation"]["phase"] != "INITIALIZING":
        return False
    due: float = record.get("validationDue", 0.0)
    reads: int = record["reads"]
    return reads <= state["confluent"]["validationReads"] or clock.now(state) < due
