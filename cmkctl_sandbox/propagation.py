"""Grant propagation lag: a new role assignment or access-policy entry is not at once usable.

Azure RBAC and Key Vault access policies take a while to reach every replica (Key Vault's RBAC
guide: up to 10 minutes), so a service that uses a key moments after its identity was granted
access is refused as if no grant existed. After a grant to a principal is created, its key uses by
a consuming service are refused for realism's `grantPropagation` seconds of the emulator's time
(realism.py; on by default; clock.py: its clients' waits move that time on), and for the next
`attempts` uses when the faults configuration sets `grantLag: {attempts: N}` (each refusal
counting down). Each service surfaces the refusal its own way: Mongo vCore's and Managed
Cassandra's operations end Failed (`arm_failure`, carried by operations.py), Confluent's key
validation says INVALID (confluent_validation.py). The lag is kept per principal, whatever vault
the grant is on: the consumers check only one vault per request.
"""

from __future__ import annotations

from typing import Any

from cmkctl_sandbox import clock, realism
from cmkctl_sandbox.arm_common import arm_section
from cmkctl_sandbox.wire import State

SECTION = "grantPropagation"
# The code a failed ARM operation carries when its service cannot reach the key: Azure Compute's for a
# disk encryption set whose identity the key vault refuses (README.md: Mongo vCore's and Managed
# Cassandra's own codes are not published).
CODE = "KeyVaultAccessForbidden"


def configure(state: State, attempts: int) -> None:
    """Make every grant created from now on lag its next `attempts` uses too (0: none)."""
    _section(state)["attempts"] = attempts


def _section(state: State) -> dict[str, Any]:
    section: dict[str, Any] = arm_section(state).setdefault(SECTION, {"attempts": 0, "pending": {}})
    section.setdefault("until", {})
    return section


def granted(state: State, principal_id: str) -> None:
    """A grant to `principal_id` was just created: its uses start lagging (again)."""
    seconds = realism.seconds(state, realism.GRANT_PROPAGATION)
    attempts = arm_section(state).get(SECTION, {}).get("attempts", 0)
    if seconds <= 0 and attempts <= 0:
        return
    section = _section(state)
    if attempts > 0:
        section["pending"][principal_id.lower()] = attempts
    if seconds > 0:
        section["until"][principal_id.lower()] = clock.now(state) + seconds


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


def arm_failure(state: State, vault: str, key: str, principal_id: str) -> dict[str, str] | None:
    """The error an ARM consumer's operation ends with while `principal_id`'s grant propagates, else None.

    The service cannot tell a grant on its way from a missing one: it says what it was refused.
    """
    if propagated(state, principal_id):
        return None
    return {"code": CODE, "message": f"The key vault '{vault}' refused principal {principal_id} the use of key "
                                     f"'{key}': it needs get, wrapKey and unwrapKey on the key."}

