"""Directory and RBAC replication lags, in the emulator's time (clock.py).

A new principal is not at once visible to Azure RBAC: a role-assignment PUT naming a service
principal, a user-assigned identity or a cluster's system-assigned identity created moments ago is
answered 400 `PrincipalNotFound` (ARM's message names "a replication delay") until realism's
`principalReplication` seconds of the emulator's time have passed since it was created (realism.py
names the default's source). Reported for new service principals (the message itself), new
user-assigned identities (Azure/avdaccelerator#99, Azure/azure-cli#8530: "sleep 10 ... 3 and 5 not
long enough") and system-assigned identities (Azure/AgentBaker#8251); Azure/aad-pod-identity#215
saw close to 2 minutes at worst. world.yaml's `azure.replicationLag.seconds` is a world's own value
for it (kept in `graph.replication.seconds`), and faults.yaml's `replicationLag.seconds` replaces it.

A new role assignment is not at once read back: Terraform's azurerm provider waits after each create
"for Role Assignment to finish replicating" (GET until five answers in a row find it), and
Azure/azure-quickstart-templates#8712 checks "that multiple requests for it return it". With
`assignments` seconds configured, a new assignment is left out of GET and list answers for that long;
a PUT sees it at once (409 RoleAssignmentExists). Off unless configured.

State: `graph.replication.visibleAt` (object ID -> when RBAC sees it); `arm.assignmentReplication`,
only when configured, `seconds` and `visibleAt` (assignment name -> when reads return it).
"""

from __future__ import annotations

from typing import Any

from cmkctl_sandbox import clock, realism
from cmkctl_sandbox.arm_common import arm_section
from cmkctl_sandbox.wire import State

ASSIGNMENTS = "assignmentReplication"


def world_seconds(state: State) -> float | None:
    """The principal lag this world's world.yaml sets (`azure.replicationLag.seconds`), or None."""
    seconds = state["graph"]["replication"].get("seconds")
    return None if seconds is None else float(seconds)


def _visible_at(state: State, object_id: str) -> float:
    return float(state["graph"]["replication"].get("visibleAt", {}).get(object_id.lower(), 0))


def configure(state: State, *, assignment_seconds: float = 0.0) -> None:
    """Make role assignments created from now on unreadable for `assignment_seconds` (0 keeps what was set)."""
    if assignment_seconds > 0:
        # Kept across starts: what an earlier session created is still replicating.
        arm_section(state).setdefault(ASSIGNMENTS, {"visibleAt": {}})["seconds"] = assignment_seconds


def principal_created(state: State, object_id: str) -> None:
    """A principal was just created: RBAC sees it once the lag has passed."""
    seconds = realism.seconds(state, realism.PRINCIPAL_REPLICATION)
    if seconds > 0:
        replication: dict[str, Any] = state["graph"]["replication"]
        replication.setdefault("visibleAt", {})[object_id.lower()] = clock.now(state) + seconds


def principal_visible(state: State, object_id: str) -> bool:
    return clock.now(state) >= _visible_at(state, object_id)


def invisible_for(state: State, object_id: str) -> float:
    """Seconds of the emulator's time until RBAC sees the principal (0: it does)."""
    return max(0.0, _visible_at(state, object_id) - clock.now(state))


def assignment_created(state: State, name: str) -> None:
    section = arm_section(state).get(ASSIGNMENTS)
    if section:
        section["visibleAt"][name.lower()] = clock.now(state) + float(section["seconds"])


def assignment_readable(state: State, name: str) -> bool:
    section = arm_section(state).get(ASSIGNMENTS)
    return not section or clock.now(state) >= float(section["visibleAt"].get(name.lower(), 0))
