"""Directory replication lag in the emulator's time: a principal made now is invisible to Azure RBAC for a while.

Azure RBAC reads a replica of the directory that lags behind Graph, so a role assignment to a
principal made moments ago fails with PrincipalNotFound (rbac._check_principal). A principal made
now (`created`) stays invisible (`visible` false) for its lag's seconds of the emulator's time
(realism.py). The moment each becomes visible is kept in `graph.replication.until` by object id.

The lag counted in attempts (world.yaml's `azure.replicationLag.servicePrincipalAttempts`) is
kept beside this one, in `graph.replication.pending`: a principal is visible once both are over.
"""

from __future__ import annotations

from cmkctl_sandbox import clock, realism
from cmkctl_sandbox.wire import State


def created(state: State, principal_id: str, lag: str = realism.PRINCIPAL_REPLICATION) -> None:
    """Principal `principal_id` was just made: RBAC sees it once lag `lag` (a realism name) is over."""
    seconds = realism.seconds(state, lag)
    if seconds > 0:
        state["graph"]["replication"].setdefault("until", {})[principal_id.lower()] = clock.now(state) + seconds


def visible(state: State, principal_id: str) -> bool:
    """Whether Azure RBAC sees `principal_id` yet, as far as the lag in time goes."""
    until: dict[str, float] = state["graph"]["replication"].get("until", {})
    return clock.now(state) >= until.get(principal_id.lower(), 0.0)
