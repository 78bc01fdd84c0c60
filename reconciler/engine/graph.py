"""Dependency order: a DAG of addresses, walked so that independent branches run in parallel."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")

# Reads and writes in flight at once unless --parallelism says otherwise. Chosen with
# benchmarks/fleet.py (README "Performance"): a 1,099-object no-op plan at 100 ms per request is
# bound by cmkctl's own CPU from here on; 16 and 32 left it waiting on the network.
DEFAULT_PARALLELISM = 64


class CycleError(ValueError):
    pass


def layers(dependencies: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Addresses grouped so that each depends only on earlier groups; unknown dependencies are ignored."""
    remaining = {node: {d for d in deps if d in dependencies} for node, deps in dependencies.items()}
    ordered: list[list[str]] = []
    while remaining:
        ready = sorted(node for node, deps in remaining.items() if not deps)
        if not ready:
            raise CycleError(f"dependency cycle among: {', '.join(sorted(remaining))}")
        ordered.append(ready)
        for node in ready:
            del remaining[node]
        for deps in remaining.values():
            deps.difference_update(ready)
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
