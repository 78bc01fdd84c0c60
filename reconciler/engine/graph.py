"""Dependency order: a DAG of addresses, checked for cycles and ordered on `graphlib`.

`schedule.py` walks it; this module only says what may come before what.
"""

from __future__ import annotations

import graphlib
import itertools
from collections.abc import Iterable, Mapping

# Reads and writes in flight at once unless --parallelism says otherwise. Chosen with
# benchmarks/fleet.py (README "Performance"): a 1,099-object no-op plan at 100 ms per request is
# bound by cmkctl's own CPU from here on; 16 and 32 left it waiting on the network.
DEFAULT_PARALLELISM = 64


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
