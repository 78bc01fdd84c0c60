"""Reading live state for a plan: each object as soon as what its read needs is known.

A read waits only for what it truly needs: its parent (a key is not looked for in a vault that does
not exist) and the objects whose outputs its identity names (a role assignment needs its
principal's object ID). Apply order (`depends_on`: a registration after its grants) does not hold
reads back, so the longest chain of dependent reads is the only serial part.

Reads start longest chain first: of the reads that are ready, the one with the longest chain of
reads waiting behind it (vault -> key -> BYOK key -> principal -> assignment) goes before an
identity or a cluster that nothing waits for.

Handlers that can answer many reads with one call offer `prefetch(identities=...)` and say how
many it takes (`prefetch_batch`; Graph looks up 15 service principals per request): ready reads
of such a kind wait until a batch is full or nothing more of their kind can become ready, are
prefetched as one group, then read from the handler's cache.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import queue
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

from reconciler.core.errors import CmkError, ProviderError, in_context
from reconciler.core.retry import RetryPolicy
from reconciler.plan.model import Resource, Unknown
from reconciler.providers.base import BatchReads, Capability, Live, ResourceHandler

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


def chain_heights(addresses: Collection[str], dependents: Mapping[str, list[str]]) -> dict[str, int]:
    """For each read, the length of the longest chain of reads that wait for it (0: none do)."""
    heights: dict[str, int] = {}
    for root in addresses:
        stack = [(root, False)]
        while stack:  # iterative depth-first walk: no recursion limit, each address done once
            address, expanded = stack.pop()
            if address in heights:
                continue
            below = dependents.get(address, ())
            if expanded:
                heights[address] = 1 + max((heights[d] for d in below), default=-1)
                continue
            stack.append((address, True))
            stack.extend((d, False) for d in below if d not in heights)
    return heights


class _Batches:
    """Reads of a kind whose handler prefetches (Graph: 15 service principals per request) are
    held until a full batch is ready, or until no more of that kind can become ready, so a fleet's
    principals cost a request per 15 rather than one each as their BYOK keys are read."""

    def __init__(self, handlers: Mapping[str, ResourceHandler], by_address: Mapping[str, Resource],
                 missing: Mapping[str, set[str]]) -> None:
        self._size = {kind: int(cast(BatchReads, h).prefetch_batch or 0) or 10**9
                      for kind, h in handlers.items() if Capability.BATCH_READ in h.capabilities}
        self._by_address = by_address
        self._held: dict[str, list[Resource]] = {kind: [] for kind in self._size}
        # Reads of a batched kind still waiting for what they need, and how many per kind.
        self._waiters = {a for a, deps in missing.items() if deps and by_address[a].kind in self._size}
        self._waiting = dict.fromkeys(self._size, 0)
        for address in self._waiters:
            self._waiting[by_address[address].kind] += 1

    def hold(self, resource: Resource) -> bool:
        """Hold a read that became ready; False when its kind is not batched."""
        if resource.kind not in self._size:
            return False
        self._held[resource.kind].append(resource)
        self._stop_waiting(resource.address)
        return True

    def gone(self, address: str) -> None:
        """A read that will never become ready (what it needed failed)."""
        self._stop_waiting(address)

    def _stop_waiting(self, address: str) -> None:
        if address in self._waiters:
            self._waiters.discard(address)
            self._waiting[self._by_address[address].kind] -= 1

    def release(self, *, everything: bool) -> list[list[Resource]]:
        """Full batches, and the rest of a kind nothing more can join; all of it when `everything`
        (nothing else is running, so nothing else would ever release it)."""
        groups: list[list[Resource]] = []
        for kind, held in self._held.items():
            size = self._size[kind]
            while len(held) >= size:
                groups.append(held[:size])
                del held[:size]
            if held and (everything or self._waiting[kind] <= 0):
                groups.append(list(held))
                held.clear()
        return groups


@dataclass
class Refresh:
    handlers: Mapping[str, ResourceHandler]
    parallelism: int
    retry: RetryPolicy
    # Reads one resource given what is known so far (None: absent, or not readable yet).
    read: Callable[[Resource, LiveState], Live | None]
    # Turns a resource's identity into the one its handler is asked about, or None when unreadable.
    identity: Callable[[Resource, LiveState], Mapping[str, Any] | None]
    # address -> why it could not be read; when given, a failed read is kept here instead of failing
    # the whole refresh (a health check reports it against the paths through it and reads on).
    unread: dict[str, str] | None = None

    def run(self, resources: Iterable[Resource], known: LiveState) -> LiveState:
        by_address = {r.address: r for r in resources}
        live: LiveState = dict(known)
        # Bookkeeping is by index, not by scanning: a fleet has thousands of objects.
        missing = {a: read_dependencies(r) & by_address.keys() for a, r in by_address.items()}
        dependents: dict[str, list[str]] = {}
        for address, deps in missing.items():
            for dep in deps:
                dependents.setdefault(dep, []).append(address)
        heights = chain_heights(by_address.keys(), dependents)
        batches = _Batches(self.handlers, by_address, missing)
        failures: list[str] = []
        finished: queue.SimpleQueue[list[Outcome]] = queue.SimpleQueue()
        ready_heap: list[tuple[int, int, list[Resource]]] = []
        heap_lock = threading.Lock()
        order = itertools.count()
        with ThreadPoolExecutor(max_workers=max(1, self.parallelism), thread_name_prefix="cmkctl-read") as pool:
            def take() -> None:
                # Each task reads whatever waits with the longest chain behind it, not what was
                # queued first: the chain is the only serial part, so it must never wait in line.
                with heap_lock:
                    group = heapq.heappop(ready_heap)[2]
                self._visit_into(finished, group, live)

            def start(groups: list[list[Resource]]) -> int:
                with heap_lock:  # all queued before any is taken, so the first taken is the best
                    for group in groups:
                        heapq.heappush(ready_heap, (-max(heights[r.address] for r in group), next(order), group))
                for _ in groups:
                    pool.submit(take)
                return len(groups)

            running = start(self._groups([by_address[a] for a in sorted(missing) if not missing[a]], batches))
            running += start(batches.release(everything=running == 0))
            while running:
                running -= 1
                ready: list[str] = []
                for address, obj, error in finished.get():
                    if error is not None:
                        self._failed(address, error, failures)
                        for skipped in self._skip(address, dependents, missing, failures):
                            batches.gone(skipped)
                            if self.unread is not None:
                                self.unread.setdefault(skipped, f"not read: {address} could not be read")
                        continue
                    live[address] = obj
                    for dependent in dependents.get(address, ()):
                        pending = missing.get(dependent)
                        if pending is not None and address in pending:
                            pending.discard(address)
                            if not pending:
                                ready.append(dependent)
                running += start(self._groups([by_address[a] for a in sorted(ready)], batches))
                running += start(batches.release(everything=running == 0))
        if failures and self.unread is None:
            raise ProviderError("could not read live state:\n  " + "\n  ".join(failures))
        return live

    def _failed(self, address: str, error: BaseException, failures: list[str]) -> None:
        failures.append(in_context(f"reading {address}", error))
        if self.unread is not None:
            self.unread[address] = str(error)

    def _visit_into(self, finished: queue.SimpleQueue[list[Outcome]], group: list[Resource],
                    live: LiveState) -> None:
        try:
            outcomes = self._visit(group, live)
        except BaseException as error:  # never leave the loop waiting for an answer
            outcomes = [(r.address, None, error) for r in group]
        finished.put(outcomes)

    @staticmethod
    def _skip(failed: str, dependents: Mapping[str, list[str]], missing: dict[str, set[str]],
              failures: list[str]) -> list[str]:
        """Dependents of a failed read are not read (and not left waiting); returns them."""
        skipped: list[str] = []
        frontier = [failed]
        while frontier:
            address = frontier.pop()
            for dependent in dependents.get(address, ()):
                if missing.pop(dependent, None) is not None:
                    failures.append(f"{dependent} not read: {failed} failed")
                    skipped.append(dependent)
                    frontier.append(dependent)
        return skipped

    def _groups(self, ready: Sequence[Resource], batches: _Batches) -> list[list[Resource]]:
        """Reads of kinds that prefetch wait in `batches`; every other read runs on its own."""
        singles: list[list[Resource]] = []
        for resource in ready:
            if not batches.hold(resource):
                singles.append([resource])
        return singles

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
        handler = cast(BatchReads, self.handlers[group[0].kind])
        identities = [i for i in (self.identity(r, live) for r in group) if i is not None]
        if not identities:
            return
        # On failure each read then asks on its own, and reports its own error.
        with contextlib.suppress(CmkError):
            self.retry.call(lambda: handler.prefetch(identities=identities),
                            what=f"looking up {len(identities)} {group[0].kind}")
