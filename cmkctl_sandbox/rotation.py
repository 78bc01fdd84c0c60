"""Give a key in a sandbox new versions, as Key Vault does on "Rotate" and on its rotation policy.

`cmkctl sandbox rotate-key DIR VAULT KEY` rotates one key now; `cmkctl sandbox advance-clock DIR
--days N` moves the sandbox's clock on and carries out every rotation its keys' policies have
come due for by then. Both change DIR's state directly: run them between cmkctl commands, not
during one (a running sandbox holds the state).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cmkctl_sandbox.arm_common import arm_section
from cmkctl_sandbox.durations import parse_duration
from cmkctl_sandbox.errors import SandboxError
from cmkctl_sandbox.keys import key_resource, new_version, sandbox_now
from cmkctl_sandbox.state import STATE_FILE, write_atomically
from cmkctl_sandbox.vaults import find_vault
from cmkctl_sandbox.wire import State
from cmkctl_sandbox.world import load_state

# A policy rotates at most this often in one move of the clock (P7D over ten years is ~520).
MAX_ROTATIONS_PER_KEY = 1000


def rotate_key(directory: Path | str, vault: str, key: str) -> str:
    """Add a version to VAULT/KEY in the sandbox in `directory`; return the new versioned key URI."""
    directory = Path(directory)
    state = load_state(directory)
    record = find_vault(state, vault)
    if record is None:
        raise SandboxError(f"the sandbox in {directory} holds no vault {vault!r}")
    found = record["keys"].get(key.lower())
    if found is None:
        raise SandboxError(f"vault {vault!r} in the sandbox in {directory} holds no key {key!r}")
    add_version(found, sandbox_now(state))
    _save(directory, state)
    uri: str = key_resource(record, found)["properties"]["keyUriWithVersion"]
    return uri


def advance_clock(directory: Path | str, seconds: float) -> list[str]:
    """Move the sandbox's clock on; return the versioned URIs of the versions its policies made."""
    directory = Path(directory)
    state = load_state(directory)
    clock = state.setdefault("clock", {})
    clock["offsetSeconds"] = clock.get("offsetSeconds", 0) + seconds
    now = sandbox_now(state)
    made = [uri for vault in arm_section(state)["vaults"].values() for key in vault["keys"].values()
            for uri in _rotate_due(vault, key, now)]
    _save(directory, state)
    return made


def add_version(key: dict[str, Any], created: float) -> dict[str, Any]:
    """A new current version made at `created`, expiring as the key's policy says."""
    current = {v["version"] for v in key["versions"]}
    version = new_version(created)
    while version["version"] in current:
        version = new_version(created)
    expiry = ((key.get("rotationPolicy") or {}).get("attributes") or {}).get("expiryTime")
    if expiry:
        version["exp"] = int(created + parse_duration(expiry).total_seconds())
    key["versions"].append(version)  # the last version is the key's current one
    return version


def _rotate_due(vault: dict[str, Any], key: dict[str, Any], now: float) -> list[str]:
    made = []
    for _ in range(MAX_ROTATIONS_PER_KEY):
        due = next_rotation(key)
        if due is None or due > now:
            break
        add_version(key, due)
        made.append(key_resource(vault, key)["properties"]["keyUriWithVersion"])
    return made


def next_rotation(key: dict[str, Any]) -> float | None:
    """When the key's policy rotates its current version next; None when it never does."""
    current = key["versions"][-1]
    for action in (key.get("rotationPolicy") or {}).get("lifetimeActions", []):
        if action["action"]["type"] != "Rotate":
            continue
        trigger = action["trigger"]
        if "timeAfterCreate" in trigger:
            return float(current["created"] + parse_duration(trigger["timeAfterCreate"]).total_seconds())
        if "timeBeforeExpiry" in trigger and "exp" in current:
            return float(current["exp"] - parse_duration(trigger["timeBeforeExpiry"]).total_seconds())
    return None


def _save(directory: Path, state: State) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    write_atomically(directory / STATE_FILE, json.dumps(state, indent=2, sort_keys=True) + "\n")
