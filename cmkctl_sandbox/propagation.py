"""Grant propagation lag: a new role assignment or access-policy entry is not at once usable.

Azure RBAC and Key Vault access policies take a while to reach every replica (Key Vault's RBAC
guide: up to 10 minutes), so a service that uses a key moments after its identity was granted
access is refused as if no grant existed. After a grant to a principal is created, its key uses by
a consuming service are refused with 403 for `seconds` of the emulator's time (clock.py: its
clients' waits move that time on), or for the next `attempts` uses (each refusal counting down).
The lag is kept per principal, whatever vault the grant is on: the consumers check only one vault
per request.

Off unless the faults configuration sets `grantLag: {attempts: N}` or `{seconds: S}`; nothing is
written to the state until then, so existing state files and tests are unchanged.
"""

from __future__ import annotations

from typing import Any

from cmkctl_sandbox import clock
from cmkctl_sandbox.arm_common import arm_section, refuse
from cmkctl_sandbox.wire import State

SECTION = "grantPropagation"
# The codes ARM consumers (Mongo, Cassandra) and Confluent answer with while a grant propagates.
CODE = "KeyVaultAccessForbidden"
CONFLUENT_CODE = "key_vault_access_forbidden"


def configure(state: State, attempts: int, seconds: float = 0.0) -> None:
    """Make every grant created from now on lag `attempts` uses, or `seconds` (0 and 0: usable at once)."""
    section = arm_section(state).setdefault(SECTION, {"attempts": 0, "pending": {}})
    section["attempts"] = attempts
    section["seconds"] = seconds
    section.setdefault("until", {})


def _section(state: State) -> dict[str, Any] | None:
    section: dict[str, Any] | None = arm_section(state).get(SECTION)
    return section if section and (section["attempts"] > 0 or section.get("seconds", 0) > 0) else None


def granted(state: State, principal_id: str) -> None:
    """A grant to `principal_id` was just created: its uses start lagging (again)."""
    section = _section(state)
    if section is None:
        return
    if section["attempts"] > 0:
        section["pending"][principal_id.lower()] = section["attempts"]
    if section.get("seconds", 0) > 0:
        section["until"][principal_id.lower()] = clock.now(state) + section["seconds"]


def propagated(state: State, principal_id: str) -> bool:
    """Whether a use of `principal_id`'s grants goes through now; a refused use counts down the lag."""
    section = arm_section(state).get(SECTION)
    if section is None:
        return True
    if clock.now(state) < section.get("until", {}).get(principal_id.lower(), 0):
        return False
    pending: dict[str, int] = section["pending"]
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
