"""Reading live state for a plan: each object as soon as what its read needs is known.

A read waits only for what it truly needs: its parent (a key is not looked for in a vault that does
not exist) and the objects whose outputs its identity names (a role assignment needs its
principal's object ID). Apply order (`depends_on`: a registration after its grants) does not hold
reads back, so the longest chain of dependent reads is the only serial part.

Handlers that can answer many reads with one call offer `prefetch(identities=...)`: objects of
such a kind that become ready together are read as one group, prefetched first (Graph looks up
15 service principals per request), then read from the handler's cache.
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from reconciler.errors import CmkError, ProviderError
from reconciler.plan import Resource, Unknown
from reconciler.providers.base import Live, ResourceHandler
from reconciler.retry import RetryPolicy

LiveState = dict[str, Live | None]
# One read's outcome: what it read, or why it failed.
Outcome = tuple[str, Live | None, BaseException | None]


def unknown_sources(value: Any) -> set[str]:
    """Addresses whose outputs `value` still waits for."""
    if isinstance(value, Unknown):
        return {value.address}
    if isinstance(value, Mapping):
        return {a for v in value.values() for a in unknown_sources(v)}
    if isinstance(value, list | tuple):
        return {a for v in value for a in unknown_sources(v)}
    return set()


def read_dependencies(resource: Resource) -> set[str]:
    """What must be read before `resource` can be: its parent and the sources of its identity."""
    return ({resource.parent} if resource.parent else set()) | unknown_sources(resource.identity)


@dataclass
class Refresh:
    handlers: Mapping[str, ResourceHandler]
    parallelism: int
    retry: RetryPolicy
    # Reads one resource given what is known so far (None: absent, or not readable yet).
    read: Callable[[Resource, LiveState], Live | None]
    # Turns a resource's identity into the one its handler is asked about, or None when unreadable.
    identity: Callable[[Resource, LiveState], Mapping[str, Any] | None]

    def run(self, resources: Iterable[Resource], known: LiveState) -> LiveState:
        by_address = {r.address: r for r in resources}
        live: LiveState = dict(known)
        # Bookkeeping is by index, not by scanning: a fleet has thousands of objects.
        missing = {a: read_dependencies(r) & by_address.keys() for a, r in by_address.items()}
        dependents: dict[str, list[str]] = {}
        for address, deps in missing.items():
            for dep in deps:
                dependents.setdefault(dep, []).append(address)
        failures: list[str] = []
        finished: queue.SimpleQueue[list[Outcome]] = queue.SimpleQueue()
        with ThreadPoolExecutor(max_workers=max(1, self.parallelism), thread_name_prefix="cmkctl-read") as pool:
            def start(ready: list[str]) -> int:
                groups = self._groups([by_address[a] for a in sorted(ready)])
                for group in groups:
                    pool.submit(self._visit_into, finished, group, live)
                return len(groups)

            running = start([a for a, deps in missing.items() if not deps])
            while running:
                running -= 1
                ready: list[str] = []
                for address, obj, error in finished.get():
                    if error is not None:
                        failures.append(f"reading {address}: {error}")
                        self._skip(address, dependents, missing, failures)
                        continue
                    live[address] = obj
                    for dependent in dependents.get(address, ()):
                        pending = missing.get(dependent)
                        if pending is not None and address in pending:
                            pending.discard(address)
                            if not pending:
                                ready.append(dependent)
                running += start(ready)
        if failures:
            raise ProviderError("could not read live state:\n  " + "\n  ".join(failures))
        return live

    def _visit_into(self, finished: queue.SimpleQueue[list[Outcome]], group: list[Resource],
                    live: LiveState) -> None:
        try:
            outcomes = self._visit(group, live)
        except BaseException as error:  # never leave the loop waiting for an answer
            outcomes = [(r.address, None, error) for r in group]
        finished.put(outcomes)

    @staticmethod
    def _skip(failed: str, dependents: Mapping[str, list[str]], missing: dict[str, set[str]],
              failures: list[str]) -> None:
        """Dependents of a failed read are not read (and not left waiting)."""
        frontier = [failed]
        while frontier:
            address = frontier.pop()
            for dependent in dependents.get(address, ()):
                if missing.pop(dependent, None) is not None:
                    failures.append(f"{dependent} not read: {failed} failed")
                    frontier.append(dependent)

    def _groups(self, ready: Sequence[Resource]) -> list[list[Resource]]:
        """Kinds that prefetch are read as one group; every other read runs on its own."""
        groups: dict[str, list[Resource]] = {}
        singles: list[list[Resource]] = []
        for resource in ready:
            if hasattr(self.handlers[resource.kind], "prefetch"):
                groups.setdefault(resource.kind, []).append(resource)
            else:
                singles.append([resource])
        return [*groups.values(), *singles]

    def _visit(self, group: list[Resource], live: LiveState) -> list[Outcome]:
        if len(group) > 1:
            self._prefetch(group, live)
        outcomes: list[Outcome] = []
        for resource in group:
            try:
                outcomes.append((resource.address, self.read(resource, live), None))
            except Exception as error:  # reported per object, as a failed read
                outcomes.append((resource.address, None, error))
        return outcomes

    def _prefetch(self, group: list[Resource], live: LiveState) -> None:
        handler = self.handlers[group[0].kind]
        identities = [i for i in (self.identity(r, live) for r in group) if i is not None]
        if not identities:
            return
        # On failure each read then asks on its own, and reports its own error.
        with contextlib.suppress(CmkError):
            self.retry.call(lambda: handler.prefetch(identities=identities),  # type: ignore[attr-defined]
                            what=f"looking up {len(identities)} {group[0].kind}")
