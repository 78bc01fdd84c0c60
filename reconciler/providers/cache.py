"""What one run has already listed: each scope's list is fetched once, however many readers ask.

Handlers read a whole scope at once (the vaults of a resource group, the role assignments on a
vault, the BYOK keys of an organisation) and pick their object from the answer, so a plan costs a
call per scope instead of a call per object. The cache lives as long as the run's handlers.

Writes must never be hidden: a handler `forget`s the scope it changed, before it looks for an
object it is about to create (a retried create must see what an earlier attempt made) and after.
A list that was in flight while its scope was forgotten answers its own caller but is not kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class RunCache:
    """Answers by key, each fetched at most once at a time (concurrent askers wait for the first)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[Hashable, Any] = {}
        self._gates: dict[Hashable, threading.Lock] = {}
        # Bumped by `forget`, so a fetch that started before a write is not kept after it.
        self._generations: dict[Hashable, int] = {}

    def get(self, key: Hashable, fetch: Callable[[], T]) -> T:
        with self._lock:
            if key in self._values:
                return self._values[key]  # type: ignore[no-any-return]
            gate = self._gates.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._values:
                    return self._values[key]  # type: ignore[no-any-return]
                generation = self._generations.get(key, 0)
            value = fetch()  # an error is raised to this asker; the next one tries again
            with self._lock:
                if self._generations.get(key, 0) == generation:
                    self._values[key] = value
            return value

    def put(self, key: Hashable, value: Any) -> None:
        """Record an answer obtained otherwise (a batched look-up answering many keys at once)."""
        with self._lock:
            self._values[key] = value

    def peek(self, key: Hashable) -> tuple[bool, Any]:
        """(True, value) when the key is cached, else (False, None); never fetches."""
        with self._lock:
            return (True, self._values[key]) if key in self._values else (False, None)

    def forget_all(self) -> None:
        """Forget every answer: a watch's next cycle must see what changed since (in flight ones are not kept)."""
        with self._lock:
            for key in self._values:
                self._generations[key] = self._generations.get(key, 0) + 1
            self._values.clear()

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._values.pop(key, None)
            self._generations[key] = self._generations.get(key, 0) + 1
