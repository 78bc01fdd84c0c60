"""Breaking a link of a key path in a stopped sandbox, as someone with portal access might.

Each edit changes DIR's saved state the way the vendor's own console would (a key disabled or
expired, a grant removed, a registration dropped, a KMS key scheduled for deletion, Confluent
losing the key), so `cmkctl check` has something real to find. Nothing here is reachable by a
plan or an apply: these are the sandbox's own edits of its own files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cmkctl_sandbox.aws import kms_keys, load_kms, save_kms
from cmkctl_sandbox.state import STATE_FILE, read_state_file, write_atomically
from cmkctl_sandbox.wire import State


def edit_state(directory: Path, change: Callable[[State], None]) -> None:
    state = read_state_file(directory)
    if state is None:
        raise ValueError(f"{directory} holds no sandbox state")
    change(state)
    write_atomically(directory / STATE_FILE, json.dumps(state, separators=(",", ":")) + "\n")


def _key(state: State, vault: str, key: str) -> dict[str, Any]:
    record: dict[str, Any] = state["arm"]["vaults"][vault]["keys"][key]
    return record


def disable_key(directory: Path, vault: str, key: str) -> None:
    edit_state(directory, lambda state: _key(state, vault, key)["attributes"].update(enabled=False))


def expire_key(directory: Path, vault: str, key: str, at: int) -> None:
    """The key's current version expires at `at` (unix seconds), as `az keyvault key set-attributes --expires`."""
    edit_state(directory, lambda state: _key(state, vault, key)["versions"][-1].update(exp=at))


def remove_role_assignments(directory: Path, scope_suffix: str, role_definition_guid: str) -> int:
    """Removes the role assignments of a role at the scope ending with `scope_suffix`; how many."""
    removed: list[str] = []
    edit_state(directory, lambda state: removed.extend(without_role_assignments(state, scope_suffix,
                                                                                role_definition_guid)))
    return len(removed)


def without_role_assignments(state: State, scope_suffix: str, role_definition_guid: str) -> list[str]:
    """The same edit on a state (a running sandbox's, see `Sandbox.edit`); the names removed."""
    assignments = state["arm"]["roleAssignments"]
    removed = [name for name, a in assignments.items()
               if a["scope"].lower().endswith(scope_suffix.lower())
               and a["roleDefinitionId"].lower().endswith(role_definition_guid.lower())]
    for name in removed:
        del assignments[name]
    return removed


def report_invalid(directory: Path, key_uri: str, message: str) -> None:
    """Confluent reports the BYOK key of `key_uri` (an Azure key's URI or a KMS key's ARN) INVALID with
    `message`, and keeps saying so."""

    def change(state: State) -> None:
        for record in state["confluent"]["keys"].values():
            if key_uri in (record["key"].get("key_id"), record["key"].get("key_arn")):
                record["validation"].update(phase="INVALID", message=message)
                record["heldInvalid"] = True

    edit_state(directory, change)


def drop_astra_registration(directory: Path, product: str, region: str) -> None:
    def change(state: State) -> None:
        keys = state["astra"]["keys"]
        keys[product] = [k for k in keys.get(product, []) if k["region"] != region]

    edit_state(directory, change)


def schedule_kms_deletion(directory: Path, key_arn: str) -> None:
    """The KMS key enters PendingDeletion, as ScheduleKeyDeletion leaves it."""
    load_kms(directory)
    for key in kms_keys():
        if key.arn == key_arn:
            key.key_state = "PendingDeletion"
    save_kms(directory)
