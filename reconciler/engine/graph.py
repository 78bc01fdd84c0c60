"""Dependency order: a DAG of addresses, checked for cycles and ordered on `graphlib`.

`schedule.py` walks it; this module only says what may come before what.
"""

from __future__ import annotations

import graphlib
import itertools
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

# Reads and writes in flight at once unless --parallelism says otherwise. Chosen with
# benchmarks/fleet.py (README "Performance"): a 1,099-object no-op plan at 100 ms per request is
# bound by cmkctl's own CPU from here on; 16 and 32 left it waiting on the network.
DEFAULT_PARALLELISM = 64

T = TypeVar("T")


class CycleError(ValueError):
    pass


def known_dependencies(dependencies: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    """Each node's dependencies among the nodes given: one on something outside the graph is not waited for."""
    return {node: {d for d in deps if d in dependencies} for node, deps in dependencies.items()}


def prepared(dependencies: Mapping[str, Iterable[str]]) -> graphlib.TopologicalSorter[str]:
    """A sorter over the graph, refused with the nodes of a cycle before anything is visited."""
    sorter = graphlib.TopologicalSorter(known_dependencies(dependencies))
    try:
        sorter.prepare()
    except graphlib.CycleError as error:
        raise CycleError(describe_cycle(error.args[1])) from None
    return sorter


def describe_cycle(cycle: list[str]) -> str:
    # graphlib lists a cycle as [a, b, ..., a], each node a dependency of the next.
    needs = ", ".join(f"{later} needs {earlier}" for earlier, later in itertools.pairwise(cycle))
    return f"dependency cycle among: {', '.join(sorted(set(cycle)))} ({needs})"


def layers(dependencies: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Addresses grouped so that each depends only on earlier groups; unknown dependencies are ignored."""
    sorter = prepared(dependencies)
    ordered: list[list[str]] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        ordered.append(ready)
        sorter.done(*ready)
    return ordered


def dependents(dependencies: Mapping[str, Iterable[str]], failed: str) -> set[str]:
    """Everything that depends on `failed`, directly or not."""
    found: set[str] = set()
    frontier = {failed}
    while frontier:
        frontier = {node for node, deps in dependencies.items() if set(deps) & frontier} - found
        found |= frontier
    return found


def walk(
    dependencies: Mapping[str, Iterable[str]],
    visit: Callable[[str], T],
    *,
    parallelism: int,
    on_failure: Callable[[str, BaseException], None],
    on_skip: Callable[[str, str], None],
) -> dict[str, T]:
    """Visit every node once all of its dependencies succeeded, up to `parallelism` at a time.

    A node starts as soon as its own dependencies are done, not when a whole layer is, so the
    critical path is the only serial part. Dependents of a failed node are skipped, not visited.
    """
    layers(dependencies)  # refuse a cycle before doing anything
    waiting = {node: {d for d in deps if d in dependencies} for node, deps in dependencies.items()}
    results: dict[str, T] = {}
    with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="cmkctl") as pool:
        running: dict[Future[T], str] = {}

        def start_ready() -> None:
            for node in sorted(n for n, deps in waiting.items() if not deps):
                del waiting[node]
                running[pool.submit(visit, node)] = node

        start_ready()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                node = running.pop(future)
                error = future.exception()
                if error is None:
                    results[node] = future.result()
                    for deps in waiting.values():
                        deps.discard(node)
                    continue
                on_failure(node, error)
                for skipped in sorted(dependents(dependencies, node) & set(waiting)):
                    del waiting[skipped]
                    on_skip(skipped, node)
            start_ready()
    return results
