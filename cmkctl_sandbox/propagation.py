"""Grant propagation lag: a new role assignment or access-policy entry is not at once usable.

Azure RBAC and Key Vault access policies take a while to reach every replica (Key Vault's RBAC
guide: up to 10 minutes), so a service that uses a key moments after its identity was granted
access is refused as if no grant existed. After a grant to a principal is created, its key uses by
a consuming service are refused for `seconds` of the emulator's time (clock.py: its clients' waits
move that time on), or for the next `attempts` uses (each refusal counting down). Each service
surfaces the refusal its own way: Mongo vCore's and Managed Cassandra's operations end Failed
(`arm_failure`, carried by operations.py), Confluent refuses the cluster (confluent.py).
The lag is kept per principal, whatever vault the grant is on: the consumers check only one vault
per request.

Off unless the faults configuration sets `grantLag: {attempts: N}` or `{seconds: S}`; nothing is
written to the state until then, so existing state files and tests are unchanged.
"""

from __future__ import annotations

from typing import Any

from cmkctl_sandbox import clock
from cmkctl_sandbox.arm_common import arm_section
from cmkctl_sandbox.wire import State

SECTION = "grantPropagation"
# The code a failed ARM operation carries when its service cannot reach the key: Azure Compute's for a
# disk encryption set whose identity the key vault refuses (README.md: Mongo vCore's and Managed
# Cassandra's own codes are not published), and Confluent's refusal.
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


def arm_failure(state: State, vault: str, key: str, principal_id: str) -> dict[str, str] | None:
    """The error an ARM consumer's operation ends with while `principal_id`'s grant propagates, else None.

    The service cannot tell a grant on its way from a missing one: it says what it was refused.
    """
    if propagated(state, principal_id):
        return None
    return {"code": CODE, "message": f"The key vault '{vault}' refused principal {principal_id} the use of key "
                                     f"'{key}': it needs get, wrapKey and unwrapKey on the key."}


def message(vault: str, principal_id: str) -> str:
    return (f"The key vault '{vault}' is not accessible (yet) to principal {principal_id}: access was granted "
            "recently and may still be propagating. Retry later; if this persists, check the grant.")
