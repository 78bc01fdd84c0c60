"""What a plane handler sees and returns: one request in, one reply out, no sockets."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MUTATING_METHODS = frozenset({"PUT", "POST", "PATCH", "DELETE"})

State = dict[str, Any]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    # Query parameters with their last value; ARM and Graph never repeat one that we read.
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""

    @property
    def mutating(self) -> bool:
        return self.method in MUTATING_METHODS

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def json(self) -> Any:
        """The decoded body; None when there is none. Raises ValueError when it is not JSON."""
        if not self.body.strip():
            return None
        return json.loads(self.body)


@dataclass
class Reply:
    status: int
    # A JSON-serialisable document, or None for an empty body.
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # Set on replies the fault injector made: its kind, for calls.jsonl. "drop" and
    # "drop_after_write" close the connection without any reply.
    fault: str = ""
    # A read that moved the world on (an LRO finishing, a replication counter) says so, so that
    # the state is saved; other reads are not compared with the saved state (see Dispatcher).
    advanced: bool = False

    @property
    def dropped(self) -> bool:
        return self.fault in ("drop", "drop_after_write")

    def encoded(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode()


class Refusal(Exception):
    """Raised by a handler to answer with an error; changes made before it are kept.

    Keeping them is deliberate: a refused attempt can still move the world (a replication-lag
    counter counts refused attempts), exactly as a real control plane's would.
    """

    def __init__(self, reply: Reply) -> None:
        super().__init__(f"{reply.status} {reply.body}")
        self.reply = reply
