"""Give a key in a sandbox a new version, as Key Vault's "Rotate" does, so rotation can be tried.

ARM cannot add a key version (Keys_CreateIfNotExist never updates a key); the data plane can. The
sandbox emulates no data plane, so `cmkctl sandbox rotate-key DIR VAULT KEY` changes DIR's state
directly. Run it between cmkctl commands, not during one: a running sandbox holds the state.
"""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.core.errors import CmkError
from reconciler.sandbox.keys import key_resource, new_version
from reconciler.sandbox.state import STATE_FILE, write_atomically
from reconciler.sandbox.vaults import find_vault
from reconciler.sandbox.world import load_state


def rotate_key(directory: Path | str, vault: str, key: str) -> str:
    """Add a version to VAULT/KEY in the sandbox in `directory`; return the new versioned key URI."""
    directory = Path(directory)
    state = load_state(directory)
    record = find_vault(state, vault)
    if record is None:
        raise CmkError(f"the sandbox in {directory} holds no vault {vault!r}")
    found = record["keys"].get(key.lower())
    if found is None:
        raise CmkError(f"vault {vault!r} in the sandbox in {directory} holds no key {key!r}")
    current = {v["version"] for v in found["versions"]}
    version = new_version()
    while version["version"] in current:
        version = new_version()
    found["versions"].append(version)  # the last version is the key's current one
    directory.mkdir(parents=True, exist_ok=True)
    write_atomically(directory / STATE_FILE, json.dumps(state, indent=2, sort_keys=True) + "\n")
    uri: str = key_resource(record, found)["properties"]["keyUriWithVersion"]
    return uri
