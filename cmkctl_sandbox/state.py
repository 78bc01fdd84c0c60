"""The sandbox's durable world: state.json, written atomically, and the calls.jsonl journal."""

from __future__ import annotations

import io
import json
import os
import pickle
import threading
from pathlib import Path
from typing import Any

from cmkctl_sandbox.wire import State

STATE_FILE = "state.json"
CALLS_FILE = "calls.jsonl"
STATE_VERSION = 1

# Set (to 1) to journal each exchange whole: query, request body, response body. The conformance
# tests read them; a fleet benchmark's journal stays small without them.
EXCHANGES_VARIABLE = "CMKCTL_SANDBOX_JOURNAL_EXCHANGES"
# The write-only secrets cmkctl sends, by exact name: journalled as a placeholder of the same type.
SECRET_FIELDS = frozenset({"initialCassandraAdminPassword", "password"})
REDACTED = "<redacted>"
# Set (to 1) by the scale benchmark: the state is saved when the sandbox stops, not after every
# change. A 10,000-object fleet's state is ~10 MB and an apply changes it ~20,000 times; saved each
# time, the sandbox, not cmkctl, would be what the benchmark measures. A killed sandbox then loses
# its changes, and a handler's crash rolls back to the last save: never for the tests.
SAVE_ON_STOP_VARIABLE = "CMKCTL_SANDBOX_SAVE_ON_STOP"


def read_state_file(directory: Path) -> State | None:
    """The saved state, or None when the directory has none yet."""
    path = directory / STATE_FILE
    if not path.exists():
        return None
    state: State = json.loads(path.read_text())
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"{path}: unsupported state version {state.get('version')!r}")
    return state


def write_atomically(path: Path, text: str) -> None:
    # A reader, or a process killed mid-write, sees the old file or the new one, never half of one.
    # No fsync: the sandbox guards against a killed process, not a power cut, and stays fast.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_atomically_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def read_calls(directory: Path) -> list[dict[str, Any]]:
    path = directory / CALLS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def mend_journal(directory: Path) -> None:
    """Cut a last line that a killed process left half written (a sandbox in a process killed with
    SIGKILL may die in the middle of an append): the journal keeps whole lines only."""
    path = directory / CALLS_FILE
    if not path.exists():
        return
    with path.open("rb+") as journal:
        data = journal.read()
        if data and not data.endswith(b"\n"):
            journal.truncate(data.rfind(b"\n") + 1)


def redact_secrets(value: Any) -> Any:
    """`value` with every secret field's value replaced by a placeholder, at any depth."""
    if isinstance(value, dict):
        return {k: (REDACTED if k in SECRET_FIELDS else redact_secrets(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_secrets(v) for v in value]
    return value


def _fingerprint(state: State) -> bytes:
    """The state's content as bytes; equal content, equal bytes (no memo: object identity is ignored)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True  # JSON data has no cycles
    pickler.dump(state)
    return buffer.getvalue()


class StateStore:
    """Holds the live state behind one lock and persists it whenever it changes.

    Handlers mutate `state` in place while holding `lock`; `commit` writes the file if the
    serialised state differs from what was last written (a read that advances an LRO says so,
    see `Reply.advanced`), and `rollback` restores the last written state after a handler crashed half-way.
    """

    def __init__(self, directory: Path, state: State) -> None:
        self.directory = directory
        self.lock = threading.RLock()
        self._journal_lock = threading.Lock()
        self.state = state
        self._written = b""
        mend_journal(directory)
        self._seq = len(read_calls(directory))
        self.journal_exchanges = os.environ.get(EXCHANGES_VARIABLE) == "1"
        self.save_on_stop = os.environ.get(SAVE_ON_STOP_VARIABLE) == "1"
        self.commit(final=True)

    def changed(self) -> bool:
        """Whether the state differs from what was last written."""
        return _fingerprint(self.state) != self._written

    def commit(self, *, final: bool = False) -> None:
        """Save the state if it changed; with `save_on_stop`, only the final commit (the sandbox stopping) saves."""
        if self.save_on_stop and not final:
            return
        # This runs on every request, under the lock, in the process of the cmkctl it serves, and a
        # fleet's state is megabytes: a pickle compares in ~1 ms, and the file is written with json's
        # C encoder (no indent: indenting falls back to the pure-Python encoder, ~10x slower).
        fingerprint = _fingerprint(self.state)
        if fingerprint != self._written:
            write_atomically(self.directory / STATE_FILE, json.dumps(self.state, separators=(",", ":")) + "\n")
            self._written = fingerprint

    def rollback(self) -> None:
        self.state.clear()
        self.state.update(pickle.loads(self._written))  # our own bytes, never read from outside

    def snapshot(self) -> State:
        with self.lock:
            copy: State = json.loads(json.dumps(self.state))
            return copy

    def record_call(self, *, method: str, path: str, plane: str, status: int, mutating: bool,
                    fault: str = "", query: dict[str, str] | None = None,
                    exchange: dict[str, Any] | None = None, host: str = "") -> None:
        # Its own lock, not the state's: the journal must not queue requests behind state handlers.
        with self._journal_lock:
            self._seq += 1
            line = {
                "seq": self._seq,
                "method": method,
                "path": path,
                "plane": plane,
                "status": status,
                "mutating": mutating,
            }
            if host:
                line["host"] = host
            if fault:
                line["fault"] = fault
            if query:
                # Two lists of one collection differ only here (a filter per scope).
                line["query"] = dict(query)
            if exchange is not None and self.journal_exchanges:
                line.update(redact_secrets(exchange))
            with open(self.directory / CALLS_FILE, "a") as handle:
                handle.write(json.dumps(line) + "\n")
