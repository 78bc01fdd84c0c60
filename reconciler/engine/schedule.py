"""One scheduler for refresh and apply: a dependency graph walked on `graphlib.TopologicalSorter`.

A node starts as soon as its own dependencies succeeded, not when a whole layer is done, so the
longest chain is the only serial part; up to `parallelism` groups run at once. The dependants of a
failed node, direct or not, are skipped, never visited; everything else still runs.

Two policies shape the walk:
- `priority`: of the groups that are ready, which a free worker takes first (`first_ready`: in the
  order they became ready, by name within a round; `longest_chain_first`: the one with the longest
  chain of nodes waiting behind it);
- `batching`: ready nodes of one batch key are held until a full batch is ready, or until nothing
  more of that key can become ready, and are then visited as one group.

All bookkeeping (the sorter, the held batches, the callbacks) happens on the calling thread; the
workers only visit. An interrupt (Ctrl-C) reaches the calling thread while it waits: groups already
handed to the pool finish, nothing more starts, and the interrupt propagates.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from reconciler.engine.graph import known_dependencies, prepared

T = TypeVar("T")
# One node's outcome: its value, or why it failed.
Outcome = tuple[str, T | None, BaseException | None]
# Given each node's dependants, a rank per node: ready groups with the higher rank start first.
Priority = Callable[[Mapping[str, Sequence[str]]], Callable[[str], int]]


def first_ready(dependants: Mapping[str, Sequence[str]]) -> Callable[[str], int]:
    """Every node alike: groups start in the order they became ready."""
    return lambda node: 0


def longest_chain_first(dependants: Mapping[str, Sequence[str]]) -> Callable[[str], int]:
    """The chain is the only serial part, so it must never wait in line behind a leaf."""
    return chain_heights(dependants.keys(), dependants).__getitem__


def chain_heights(nodes: Collection[str], dependants: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """For each node, the length of the longest chain of nodes that wait for it (0: none do)."""
    heights: dict[str, int] = {}
    for root in nodes:
        stack = [(root, False)]
        while stack:  # iterative depth-first walk: no recursion limit, each node done once
            node, expanded = stack.pop()
            if node in heights:
                continue
            below = dependants.get(node, ())
            if expanded:
                heights[node] = 1 + max((heights[d] for d in below), default=-1)
                continue
            stack.append((node, True))
            stack.extend((d, False) for d in below if d not in heights)
    return heights


@dataclass(frozen=True)
class Batching:
    """Nodes whose `key` is in `sizes` are visited in groups of up to that size; others alone."""

    key: Callable[[str], str]
    sizes: Mapping[str, int]


class _Held:
    """Ready nodes of a batched key, held until their batch is full or cannot grow any more."""

    def __init__(self, batching: Batching | None, nodes: Iterable[str]) -> None:
        self._key = batching.key if batching else (lambda node: "")
        self._sizes = dict(batching.sizes) if batching else {}
        self._held: dict[str, list[str]] = {key: [] for key in self._sizes}
        # Nodes of each batched key not yet ready (nor skipped): while any remain, a batch may grow.
        self._pending = dict.fromkeys(self._sizes, 0)
        for node in nodes:
            key = self._key(node)
            if key in self._pending:
                self._pending[key] += 1

    def hold(self, node: str) -> bool:
        """Hold a node that became ready; False when its key is not batched."""
        key = self._key(node)
        if key not in self._held:
            return False
        self._held[key].append(node)
        self._pending[key] -= 1
        return True

    def gone(self, node: str) -> None:
        """A node that will never become ready (what it needed failed)."""
        key = self._key(node)
        if key in self._pending:
            self._pending[key] -= 1

    def release(self, *, everything: bool) -> list[list[str]]:
        """Full batches, and the rest of a key nothing more can join; all of it when `everything`
        (nothing else is running, so nothing else would ever release it)."""
        groups: list[list[str]] = []
        for key, held in self._held.items():
            size = self._sizes[key]
            while len(held) >= size:
                groups.append(held[:size])
                del held[:size]
            if held and (everything or self._pending[key] <= 0):
                groups.append(list(held))
                held.clear()
        return groups


def each_alone(visit: Callable[[str], T]) -> Callable[[list[str]], list[Outcome[T]]]:
    """A visit of one node at a time as a visit of groups (which are then of one node each)."""
    def visit_group(group: list[str]) -> list[Outcome[T]]:
        (node,) = group
        return [(node, visit(node), None)]
    return visit_group


@dataclass
class Scheduler(Generic[T]):
    # Visits a group (one node, or a batch) and says how each of its nodes went; raising fails them all.
    visit: Callable[[list[str]], list[Outcome[T]]]
    parallelism: int
    on_failure: Callable[[str, BaseException], None]
    # (skipped node, the failed node it needed)
    on_skip: Callable[[str, str], None]
    # Called before a node's dependants can start, so what they read of it is there.
    on_done: Callable[[str, T | None], None] = lambda node, value: None
    priority: Priority = first_ready
    batching: Batching | None = None

    def run(self, dependencies: Mapping[str, Iterable[str]]) -> dict[str, T | None]:
        """Visit every node once all of its dependencies succeeded; returns what each visit gave."""
        return _Run(self, dependencies).walk()


class _Run(Generic[T]):
    """One walk: its state is touched only on the calling thread, but for the queue of ready groups."""

    def __init__(self, scheduler: Scheduler[T], dependencies: Mapping[str, Iterable[str]]) -> None:
        self.scheduler = scheduler
        self.sorter = prepared(dependencies)  # a cycle is refused before anything is visited
        self.dependants: dict[str, list[str]] = {node: [] for node in dependencies}
        for node, deps in known_dependencies(dependencies).items():
            for dep in sorted(deps):
                self.dependants[dep].append(node)
        self.rank = scheduler.priority(self.dependants)
        self.held = _Held(scheduler.batching, dependencies)
        self.skipped: set[str] = set()
        self.results: dict[str, T | None] = {}
        self.finished: queue.SimpleQueue[list[Outcome[T]]] = queue.SimpleQueue()
        self.ready: list[tuple[int, int, list[str]]] = []
        self.ready_lock = threading.Lock()
        self.order = itertools.count()
        self.running = 0

    def walk(self) -> dict[str, T | None]:
        workers = max(1, self.scheduler.parallelism)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cmkctl") as pool:
            try:
                self.start_ready(pool)
                while self.running:
                    outcomes = self.finished.get()
                    self.running -= 1
                    for node, value, error in outcomes:
                        self.settle(node, value, error)
                    self.start_ready(pool)
            except BaseException:
                # Ctrl-C, or a callback that stops the walk: what runs finishes, nothing queued starts.
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        return self.results

    def settle(self, node: str, value: T | None, error: BaseException | None) -> None:
        if error is None:
            self.results[node] = value
            self.scheduler.on_done(node, value)
            self.sorter.done(node)
            return
        self.scheduler.on_failure(node, error)
        # The sorter never offers what waits on a node that is not done: skipping is bookkeeping only.
        for skipped in sorted(self.needing(node) - self.skipped):
            self.skipped.add(skipped)
            self.held.gone(skipped)
            self.scheduler.on_skip(skipped, node)

    def needing(self, failed: str) -> set[str]:
        """Everything that depends on `failed`, directly or not."""
        found: set[str] = set()
        frontier = [failed]
        while frontier:
            for dependant in self.dependants[frontier.pop()]:
                if dependant not in found:
                    found.add(dependant)
                    frontier.append(dependant)
        return found

    def start_ready(self, pool: ThreadPoolExecutor) -> None:
        singles = [[node] for node in sorted(self.sorter.get_ready()) if not self.held.hold(node)]
        self.start(pool, singles)
        self.start(pool, self.held.release(everything=self.running == 0))

    def start(self, pool: ThreadPoolExecutor, groups: list[list[str]]) -> None:
        with self.ready_lock:  # all queued before any is taken, so the first taken is the best
            for group in groups:
                heapq.heappush(self.ready, (-max(self.rank(n) for n in group), next(self.order), group))
        for _ in groups:
            pool.submit(self.take)
        self.running += len(groups)

    def take(self) -> None:
        # Each worker visits whatever ranks highest when it is free, not what was queued first.
        with self.ready_lock:
            group = heapq.heappop(self.ready)[2]
        try:
            outcomes = self.scheduler.visit(group)
        except BaseException as error:  # never leave the walk waiting for an answer
            outcomes = [(node, None, error) for node in group]
        self.finished.put(outcomes)
