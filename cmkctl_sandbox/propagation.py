"""Grant propagation lag: a new role assignment or access-policy entry is not at once usable.

Azure RBAC and Key Vault access policies take a while to reach every replica, so a service that
uses a key moments after its identity was granted access is refused as if no grant existed. The
sandbox counts instead of timing: after a grant to a principal is created, the next `attempts`
key uses by a consuming service on that principal's behalf are refused with 403 (each refusal
brings propagation one step closer, as time would). The lag is kept per principal, whatever vault
the grant is on: the consumers check only one vault per request.

Off unless the faults configuration sets `grantLag: {attempts: N}`; nothing is written to the
state until then, so existing state files and tests are unchanged.
"""

from __future__ import annotations

from typing import Any

from cmkctl_sandbox.arm_common import arm_section, refuse
from cmkctl_sandbox.wire import State

SECTION = "grantPropagation"
# The codes ARM consumers (Mongo, Cassandra) and Confluent answer with while a grant propagates.
CODE = "KeyVaultAccessForbidden"
CONFLUENT_CODE = "key_vault_access_forbidden"


def configure(state: State, attempts: int) -> None:
    """Make every grant created from now on lag `attempts` uses (0: usable at once)."""
    arm_section(state).setdefault(SECTION, {"attempts": 0, "pending": {}})["attempts"] = attempts


def _section(state: State) -> dict[str, Any] | None:
    section: dict[str, Any] | None = arm_section(state).get(SECTION)
    return section if section and section["attempts"] > 0 else None


def granted(state: State, principal_id: str) -> None:
    """A grant to `principal_id` was just created: its uses start lagging (again)."""
    section = _section(state)
    if section is not None:
        section["pending"][principal_id.lower()] = section["attempts"]


def propagated(state: State, principal_id: str) -> bool:
    """Whether a use of `principal_id`'s grants goes through now; a refused use counts down the lag."""
    section = arm_section(state).get(SECTION)
    pending: dict[str, int] = section["pending"] if section else {}
    left = pending.get(principal_id.lower(), 0)
    if left <= 0:
        return True
    pending[principal_id.lower()] = left - 1
    return False


def check_arm(state: State, vault: str, principal_id: str) -> None:
    """Refuse an ARM consumer's request with 403 while `principal_id`'s grant propagates.

    No Retry-After: azure-core would retry the 403 itself, and real ARM sends none.
    """
    if not propagated(state, principal_id):
        refuse(403, CODE, message(vault, principal_id))


def message(vault: str, principal_id: str) -> str:
    return (f"The key vault '{vault}' is not accessible (yet) to principal {principal_id}: access was granted "
            "recently and may still be propagating. Retry later; if this persists, check the grant.")
